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
) -> None:
    """Check application events offline with the stream's decoder: a verdict per file, with the
    dead-letter reason of each invalid one; exit 1 if any is invalid."""
    from consumer.tools.validate_events import validate_file

    verdicts = [validate_file(path) for path in files]
    for verdict in verdicts:
        typer.echo(verdict.line())
    if not all(verdict.valid for verdict in verdicts):
        raise typer.Exit(1)
