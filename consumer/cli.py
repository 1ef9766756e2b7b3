"""The `loan-scorer` command line: one entry point for the offline and online jobs.

Heavy imports (scikit-learn, confluent-kafka) happen inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from consumer.config.settings import Settings, UnknownSettingError, load_settings
from impact import cli as impact_cli
from registry.cli import model_app

app = typer.Typer(
    name="loan-scorer",
    help="Real-time credit scoring of loan-application events on Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EnvFile = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="A file of LOAN_SCORER_* variables; the environment wins over it.",
        exists=True,
        dir_okay=False,
    ),
]


def _settings(env_file: Path | None) -> Settings:
    """Load and validate the settings, or exit 2 with the list of what is wrong."""
    try:
        return load_settings(env_file)
    except UnknownSettingError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    except ValidationError as error:
        lines = [
            f"  LOAN_SCORER_{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        ]
        typer.echo("invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None


@app.command()
def train(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the model artifact, card and report.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed, the same model.")] = 42,
    register: Annotated[
        bool,
        typer.Option(
            help="Log the run and register the model in MLflow (MLFLOW_TRACKING_URI, else the "
            "embedded store under build/mlflow)."
        ),
    ] = True,
    alias: Annotated[
        str | None, typer.Option(help="With --register: point this alias at the new version.")
    ] = None,
) -> None:
    """Train the credit model on the bundled credit_data set: artifact, card and report."""
    from consumer.telemetry.logs import configure_logging
    from training.train import train_model

    configure_logging("INFO")
    card = train_model(out_dir=out, seed=seed)
    typer.echo(f"model {card.model_version} written to {out}")
    if register:
        from registry.register import register_model_dir

        version = register_model_dir(out, alias)
        typer.echo(f"registered as {card.model_version} version {version}")


@app.command()
def run(env_file: EnvFile = None) -> None:
    """Consume, validate, score and publish until SIGTERM/SIGINT (see LOAN_SCORER_*)."""
    from consumer.runtime.service import run_service
    from consumer.telemetry.logs import configure_logging

    settings = _settings(env_file)
    configure_logging(settings.log_level)
    raise typer.Exit(run_service(settings))


@app.command()
def produce(
    count: Annotated[
        int | None, typer.Option(help="Events to send (default: every application once).")
    ] = None,
    rate: Annotated[
        float, typer.Option(help="Events per second; 0 sends as fast as possible.")
    ] = 0.0,
    broken_share: Annotated[
        float, typer.Option(help="Share of deliberately broken events, 0 to 1.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for choosing and breaking events.")] = 7,
    outcomes: Annotated[
        bool,
        typer.Option(
            "--outcomes",
            help="Send the data set's real good/bad labels as LoanOutcome events instead.",
        ),
    ] = False,
    delay: Annotated[
        float, typer.Option(help="With --outcomes: seconds to wait before the first outcome.")
    ] = 0.0,
    env_file: EnvFile = None,
) -> None:
    """Replay the real credit_data applications as v1 events (the demo's upstream system), or
    with --outcomes their real outcomes (the servicing system)."""
    from consumer.tools.demo_events import demo_events, demo_outcomes
    from consumer.tools.demo_producer import publish

    settings = _settings(env_file)
    if outcomes:
        time.sleep(delay)
        counts = publish(
            demo_outcomes(count),
            topic=settings.outcomes_topic,
            config=settings.kafka_common_config(),
            rate_per_s=rate,
        )
        typer.echo(
            f"sent {sum(counts.values())} outcomes to {settings.outcomes_topic}: "
            f"{counts['defaulted']} defaulted"
        )
        return
    counts = publish(
        demo_events(count, broken_share=broken_share, seed=seed),
        topic=settings.input_topic,
        config=settings.kafka_common_config(),
        rate_per_s=rate,
    )
    total = sum(counts.values())
    typer.echo(
        f"sent {total} events to {settings.input_topic}: {counts['valid']} valid, "
        f"{total - counts['valid']} broken"
    )


@app.command()
def outcomes(
    export_pairs: Annotated[
        Path | None,
        typer.Option(
            "--export-pairs",
            help="Write the store's joined pairs to this .csv or .parquet file (the input of "
            "`loan-scorer report --pairs`) and exit, without consuming.",
            dir_okay=False,
        ),
    ] = None,
    env_file: EnvFile = None,
) -> None:
    """Join scores (every model version and role) to real outcomes; serve the realised metrics
    on LOAN_SCORER_OUTCOMES_HTTP_PORT until SIGTERM/SIGINT."""
    from consumer.outcomes.service import export_pairs as write_pairs_file
    from consumer.outcomes.service import run_outcomes
    from consumer.telemetry.logs import configure_logging

    settings = _settings(env_file)
    configure_logging(settings.log_level)
    if export_pairs is not None:
        count = write_pairs_file(settings.outcomes_store, export_pairs)
        typer.echo(f"{count} joined pairs written to {export_pairs}")
        return
    raise typer.Exit(run_outcomes(settings))


@app.command()
def tail(
    from_beginning: Annotated[
        bool, typer.Option(help="Start at the oldest score instead of new ones.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    idle_exit_s: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a record.")
    ] = None,
    dead_letters: Annotated[
        bool, typer.Option("--dead-letters", help="Follow the dead-letter topic instead.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per record instead of a line.")
    ] = False,
    env_file: EnvFile = None,
) -> None:
    """Print scores (or dead letters) as they are committed, one line each; exit 1 if the
    topic does not exist."""
    from consumer.tools.tail import TopicMissingError, follow

    settings = _settings(env_file)
    try:
        shown = follow(
            settings,
            dead_letters=dead_letters,
            from_beginning=from_beginning,
            limit=limit,
            idle_exit_s=idle_exit_s,
            write=lambda line: typer.echo(line),
            as_json=as_json,
        )
    except TopicMissingError as error:
        typer.echo(f"warning: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{shown} records", err=True)


@app.command()
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
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    env_file: EnvFile = None,
) -> None:
    """Score a book of applications again (a topic from its beginning, or the data set) with a
    chosen model and policy; write LoanScored events and dead letters to topics or files."""
    from rich.progress import Progress

    from consumer.pipeline.scoring import ScoringPipeline
    from consumer.runtime.heap import freeze_start_up_heap
    from consumer.runtime.service import framed_input_decoder
    from consumer.telemetry.logs import configure_logging
    from consumer.tools.rescore import (
        DatasetSource,
        JsonLinesSink,
        RescoreError,
        Sink,
        Source,
        TopicSink,
        TopicSource,
        resolve_destination,
    )
    from consumer.tools.rescore import rescore as run_rescore
    from scoring.artifact import load_model
    from scoring.exceptions import ScoringError
    from scoring.policy import DEFAULT_POLICY_PATH, load_policy

    settings = _settings(env_file)
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
        with Progress(disable=not progress, transient=True) as bar:
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


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Event files, each one record value (JSON).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
) -> None:
    """Check application events offline with the stream's decoder: a verdict per file, with the
    dead-letter reason of each invalid one; exit 1 if any is invalid."""
    from consumer.tools.validate_events import validate_file

    verdicts = [validate_file(path) for path in files]
    for verdict in verdicts:
        typer.echo(verdict.line())
    if not all(verdict.valid for verdict in verdicts):
        raise typer.Exit(1)


schemas_app = typer.Typer(
    help="The contracts in a schema registry (LOAN_SCORER_SCHEMA_REGISTRY_URL): register, check.",
    no_args_is_help=True,
)
app.add_typer(schemas_app, name="schemas")

SchemasDir = Annotated[
    Path | None,
    typer.Option(
        "--schemas-dir",
        help="Where the JSON Schema files are (default: the package's schemas/json).",
        exists=True,
        file_okay=False,
    ),
]


@schemas_app.command("register")
def schemas_register(env_file: EnvFile = None, schemas_dir: SchemasDir = None) -> None:
    """Register every contract under its topic's subject (`<topic>-value`) with the policy's
    compatibility (FORWARD_TRANSITIVE); exit 1 with the registry's diff if it refuses one."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from consumer.kafka.schema_registry import register_contracts, registry_client
    from schemas.registry import JSON_DIR

    settings = _settings(env_file)
    try:
        registered = register_contracts(
            registry_client(settings), settings, schemas_dir or JSON_DIR
        )
    except SchemaRegistryError as error:
        typer.echo(f"the registry refused: {error}", err=True)
        raise typer.Exit(1) from None
    for item in registered:
        typer.echo(
            f"{item.contract}: {item.subject} version {item.version} (schema id {item.schema_id})"
        )


@schemas_app.command("check")
def schemas_check(env_file: EnvFile = None, schemas_dir: SchemasDir = None) -> None:
    """Test the working tree's schemas against every registered version of their subjects;
    exit 1 on a change the registry would refuse, with the registry's own diff."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from consumer.kafka.schema_registry import FAILING, check_contracts, registry_client
    from schemas.registry import JSON_DIR

    settings = _settings(env_file)
    try:
        results = check_contracts(registry_client(settings), settings, schemas_dir or JSON_DIR)
    except SchemaRegistryError as error:  # no verdict: exit 2, not the 1 of a breaking change
        typer.echo(f"the registry could not check the schemas: {error}", err=True)
        raise typer.Exit(2) from None
    for result in results:
        typer.echo(f"{result.contract} ({result.subject}): {result.status}")
        for line in result.diff:
            typer.echo(f"  {line}")
    if any(result.status in FAILING for result in results):
        raise typer.Exit(1)


app.command(name="report")(impact_cli.report)
app.add_typer(model_app, name="model")
api_key_app = typer.Typer(
    help="API keys of the HTTP API (stored hashed in LOAN_SCORER_API_KEYS_FILE).",
    no_args_is_help=True,
)
app.add_typer(api_key_app, name="api-key")


@api_key_app.command("create")
def api_key_create(
    name: Annotated[
        str, typer.Option("--name", help="Client name: audit lines and rate limits use it.")
    ],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="score and/or model:read; repeat for several."),
    ],
) -> None:
    """Print a new key (line 1: shown once, give it to the client) and the line to append to
    the key file (line 2: its SHA-256, safe to store)."""
    from consumer.api.api_keys import KeyFileError, new_key

    try:
        key, stored = new_key(name, frozenset(scope))
    except KeyFileError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(key)
    typer.echo(stored.line())
    typer.echo(
        "line 1 is the key (shown once; the client sends 'Authorization: Bearer KEY'); "
        "append line 2 to LOAN_SCORER_API_KEYS_FILE (re-read without a restart)",
        err=True,
    )


def main() -> None:  # pragma: no cover - the console script's entry point
    sys.exit(app())
