"""The `loan-scorer` command line: one entry point for the offline and online jobs.

Heavy imports (scikit-learn, confluent-kafka) happen inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from consumer.settings import Settings, UnknownSettingError, load_settings

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
) -> None:
    """Train the credit model on the bundled credit_data set: artifact, card and report."""
    from consumer.logs import configure_logging
    from training.train import train_model

    configure_logging("INFO")
    card = train_model(out_dir=out, seed=seed)
    typer.echo(f"model {card.model_version} written to {out}")


@app.command()
def run(env_file: EnvFile = None) -> None:
    """Consume, validate, score and publish until SIGTERM/SIGINT (see LOAN_SCORER_*)."""
    from consumer.logs import configure_logging
    from consumer.service import run_service

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
    env_file: EnvFile = None,
) -> None:
    """Replay the real credit_data applications as v1 events (the demo's upstream system)."""
    from consumer.demo_events import demo_events
    from consumer.demo_producer import publish

    settings = _settings(env_file)
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
    from consumer.tail import TopicMissingError, follow

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
    from consumer.validate_events import validate_file

    verdicts = [validate_file(path) for path in files]
    for verdict in verdicts:
        typer.echo(verdict.line())
    if not all(verdict.valid for verdict in verdicts):
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - the console script's entry point
    sys.exit(app())
