"""`loan-scorer run`: the scorer process itself."""

from __future__ import annotations

import typer

from consumer.cli.common import EnvFile, load_or_exit


def run(env_file: EnvFile = None) -> None:
    """Consume, validate, score and publish until SIGTERM/SIGINT (see LOAN_SCORER_*)."""
    from consumer.runtime.service import run_service
    from consumer.telemetry.logs import configure_logging

    settings = load_or_exit(env_file)
    configure_logging(settings.log_level)
    raise typer.Exit(run_service(settings))
