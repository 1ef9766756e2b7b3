"""`loan-scorer outcomes`: the outcomes joiner, a process of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumer.cli.common import EnvFile, load_or_exit


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
    from consumer.tools.wording import counted

    settings = load_or_exit(env_file)
    configure_logging(settings.log_level)
    if export_pairs is not None:
        count = write_pairs_file(settings.outcomes_store, export_pairs)
        typer.echo(f"{counted(count, 'joined pair')} written to {export_pairs}")
        return
    raise typer.Exit(run_outcomes(settings))
