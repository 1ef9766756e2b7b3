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
    env_file: EnvFile = None,
) -> None:
    """Replay the real credit_data applications as v1 events (the demo's upstream system), or
    with --outcomes their real outcomes (the servicing system)."""
    from consumer.tools.demo_events import demo_events, demo_outcomes
    from consumer.tools.demo_producer import publish

    settings = load_or_exit(env_file)
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
