"""`loan-scorer model ...`: register, promote, roll back and list registry versions.

Registered on the main CLI by `consumer.cli`; MLflow is imported only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(
    help="The model registry (MLflow): register, promote, roll back. MLFLOW_TRACKING_URI "
    "names a tracking server; unset, the embedded store under build/mlflow.",
    no_args_is_help=True,
)


@model_app.command()
def register(
    model_dir: Annotated[
        Path, typer.Option("--model-dir", exists=True, file_okay=False, help="A trained model.")
    ],
    alias: Annotated[
        str | None, typer.Option(help="Also point this alias at it, e.g. challenger.")
    ] = None,
) -> None:
    """Log a trained model directory as a run and a registered version (idempotent)."""
    from registry.register import register_model_dir

    version = register_model_dir(model_dir, alias)
    typer.echo(f"registered as version {version}" + (f" ({alias})" if alias else ""))


@model_app.command()
def promote(
    version: Annotated[str, typer.Option("--version", help="The registry version number.")],
    accept_fairness_regression: Annotated[
        str | None,
        typer.Option(
            "--accept-fairness-regression",
            metavar="REASON",
            help="Promote even if VERSION's lowest adverse-impact ratio is more than 0.05 below "
            "the champion's; REASON is written to the registry's lineage.",
        ),
    ] = None,
) -> None:
    """Make VERSION the champion (the current one becomes previous-champion), if it passes the
    fairness gate."""
    from registry.lifecycle import LifecycleError
    from registry.lifecycle import promote as promote_version

    try:
        move = promote_version(version, accept_fairness_regression)
    except LifecycleError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"champion -> version {move.champion} ({move.model_version}); previous: {move.previous}. "
        f"Fairness gate {move.fairness}. Restart the scorers to serve it (kubectl rollout restart)."
    )


@model_app.command()
def rollback() -> None:
    """Give the champion alias back to the previous champion."""
    from registry.lifecycle import LifecycleError
    from registry.lifecycle import rollback as rollback_champion

    try:
        move = rollback_champion()
    except LifecycleError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"champion -> version {move.champion} ({move.model_version}); demoted: {move.previous}. "
        "Restart the scorers to serve it (kubectl rollout restart)."
    )


@model_app.command()
def challenger(
    version: Annotated[str, typer.Option("--version", help="The registry version number.")],
) -> None:
    """Point the challenger alias at VERSION."""
    from registry.lifecycle import LifecycleError, set_challenger

    try:
        model_version = set_challenger(version)
    except LifecycleError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"challenger -> version {version} ({model_version})")


@model_app.command(name="list")
def list_aliases() -> None:
    """The aliases and the versions they point at."""
    from registry.lifecycle import aliases

    for alias, (version, model_version) in aliases().items():
        typer.echo(f"{alias}\tversion {version}\t{model_version}")
