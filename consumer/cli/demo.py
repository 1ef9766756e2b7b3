"""`loan-scorer produce`: the demo's upstream system and servicing system."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from consumer.cli.common import EnvFile, load_or_exit


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
    progress: Annotated[
        bool, typer.Option(help="Show count, rate and time left on stderr (a terminal only).")
    ] = True,
    env_file: EnvFile = None,
) -> None:
    """Replay the real credit_data applications as v1 events (the demo's upstream system), or
    with --outcomes their real outcomes (the servicing system). --rate is kept by the clock:
    `--rate 20 --count 200` takes 10 s."""
    from consumer.cli.terminal import progress_bar
    from consumer.tools.demo_events import demo_events, demo_outcomes
    from consumer.tools.demo_producer import publish
    from consumer.tools.wording import counted

    settings = load_or_exit(env_file)
    if outcomes:
        time.sleep(delay)
        topic = settings.outcomes_topic
        events = demo_outcomes(count)
    else:
        topic = settings.input_topic
        events = demo_events(count, broken_share=broken_share, seed=seed)
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task(f"sending to {topic}", total=count)
        counts = publish(
            events,
            topic=topic,
            config=settings.kafka_common_config(),
            rate_per_s=rate,
            progress=lambda sent: bar.advance(task, sent),
        )
    total = sum(counts.values())
    if outcomes:
        typer.echo(f"sent {counted(total, 'outcome')} to {topic}: {counts['defaulted']} defaulted")
        return
    typer.echo(
        f"sent {counted(total, 'event')} to {topic}: {counts['valid']} valid, "
        f"{total - counts['valid']} broken"
    )
