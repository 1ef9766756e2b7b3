"""What every command shares: the `--env-file` option and loading the settings or exiting 2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from consumer.config.environment import UnknownSettingError, load_settings
from consumer.config.settings import Settings

EnvFile = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="A file of LOAN_SCORER_* variables; the environment wins over it.",
        exists=True,
        dir_okay=False,
    ),
]


def load_or_exit(env_file: Path | None) -> Settings:
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
