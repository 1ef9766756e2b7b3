"""`loan-scorer tail` and `validate`: what the stream holds, and what it would say of a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumer.cli.common import EnvFile, load_or_exit


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
    from consumer.tools.wording import counted

    settings = load_or_exit(env_file)
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
    typer.echo(counted(shown, "record"), err=True)


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
    env_file: EnvFile = None,
) -> None:
    """Check application events offline with the stream's decoder: a verdict per file, with the
    dead-letter reason of each invalid one; exit 1 if any is invalid, 2 if any could not be
    checked. A file in the schema registry's wire format is read as the scorer reads it (its
    schema id looked up when LOAN_SCORER_SCHEMA_REGISTRY_URL is set)."""
    from consumer.tools.validate_events import is_framed, validate_file

    framed = None
    if any(is_framed(path) for path in files):  # settings and registry only when needed
        from consumer.runtime.wire_format import framed_input_decoder

        settings = load_or_exit(env_file)
        framed = framed_input_decoder(settings, settings.input_topic)
    verdicts = [validate_file(path, framed) for path in files]
    for verdict in verdicts:
        typer.echo(verdict.line())
    if any(verdict.reason is not None for verdict in verdicts):
        raise typer.Exit(1)
    if not all(verdict.valid for verdict in verdicts):
        raise typer.Exit(2)
