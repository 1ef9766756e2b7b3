"""`loan-scorer rescore`: a book of applications scored again with a chosen model and policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumer.cli.common import EnvFile, load_or_exit


def rescore(
    to_topic: Annotated[
        str | None, typer.Option("--to-topic", help="Write LoanScored events to this topic.")
    ] = None,
    to_file: Annotated[
        Path | None,
        typer.Option(
            "--to-file", help="Write LoanScored events to this JSON Lines file.", dir_okay=False
        ),
    ] = None,
    from_topic: Annotated[
        str | None,
        typer.Option(
            "--from-topic", help="Read applications from this topic [default: the input topic]."
        ),
    ] = None,
    from_dataset: Annotated[
        bool, typer.Option("--from-dataset", help="Read the bundled credit_data applications.")
    ] = False,
    dead_letters: Annotated[
        str | None,
        typer.Option(
            "--dead-letters",
            help="Topic (or file, with --to-file) for invalid input [default: OUTPUT.dlq(.jsonl)].",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Model directory [default: LOAN_SCORER_MODEL_DIR]."),
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy-file", help="Decision policy [default: LOAN_SCORER_POLICY_FILE]."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Applications scored per call.")
    ] = 2_000,
    progress: Annotated[
        bool, typer.Option(help="Show count, rate and time left on stderr (a terminal only).")
    ] = True,
    env_file: EnvFile = None,
) -> None:
    """Score a book of applications again (a topic from its beginning, or the data set) with a
    chosen model and policy; write LoanScored events and dead letters to topics or files."""
    from consumer.cli.terminal import progress_bar
    from consumer.pipeline.scoring import ScoringPipeline
    from consumer.runtime.heap import freeze_start_up_heap
    from consumer.runtime.wire_format import framed_input_decoder
    from consumer.telemetry.logs import configure_logging
    from consumer.tools.rescore import (
        JsonLinesSink,
        RescoreError,
        Sink,
        Source,
        TopicSink,
        resolve_destination,
    )
    from consumer.tools.rescore import rescore as run_rescore
    from consumer.tools.rescore_sources import DatasetSource, TopicSource
    from scoring.artifact import load_model
    from scoring.exceptions import ScoringError
    from scoring.policy import DEFAULT_POLICY_PATH, load_policy

    settings = load_or_exit(env_file)
    configure_logging("WARNING")
    read_topic = None if from_dataset else (from_topic or settings.input_topic)
    try:
        destination = resolve_destination(
            to_topic=to_topic, to_file=to_file, dead_letters=dead_letters, from_topic=read_topic
        )
        model = load_model(model_dir or settings.model_dir)
        policy = load_policy(policy_file or settings.policy_file or DEFAULT_POLICY_PATH)
    except RescoreError as error:
        typer.echo(f"rescore: {error}", err=True)
        raise typer.Exit(2) from None
    except (ScoringError, OSError) as error:
        typer.echo(f"rescore: cannot load the model or policy: {error}", err=True)
        raise typer.Exit(2) from None
    config = settings.kafka_common_config()
    try:
        source: Source
        if read_topic is None:
            from training.dataset import load_credit_data

            source = DatasetSource(load_credit_data().applications, batch_size)
        else:
            source = TopicSource(config, read_topic, batch_size, settings.kafka_timeout_s)
        sink: Sink = (
            TopicSink(config) if destination.kind == "topic" else JsonLinesSink(destination)
        )
        pipeline = ScoringPipeline(
            model,
            policy,
            output_topic=destination.scores,
            dlq_topic=destination.dead_letters,
            # Framed by the registry or plain, as the stream reads it; scores stay plain JSON.
            framed=framed_input_decoder(settings, read_topic) if read_topic else None,
        )
        freeze_start_up_heap()  # the serving path's collector settings (consumer/runtime/heap.py)
        with progress_bar(enabled=progress) as bar:
            task = bar.add_task(f"scoring {source.name}", total=source.total)
            counts = run_rescore(
                source, pipeline, sink, progress=lambda step: bar.advance(task, step)
            )
    except RescoreError as error:
        typer.echo(f"rescore: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{counts.summary()} with {model.model_version}/{policy.policy_version} "
        f"-> {destination.scores} (dead letters: {destination.dead_letters})"
    )
