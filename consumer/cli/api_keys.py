"""`loan-scorer api-key create`: a key for the HTTP API, stored only as its hash."""

from __future__ import annotations

from typing import Annotated

import typer

api_key_app = typer.Typer(
    help="API keys of the HTTP API (stored hashed in LOAN_SCORER_API_KEYS_FILE).",
    no_args_is_help=True,
)


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
