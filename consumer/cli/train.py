"""`loan-scorer train`: the offline job, kept out of the online commands' imports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the model artifact, card and report.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed, the same model.")] = 42,
    register: Annotated[
        bool,
        typer.Option(
            help="Log the run and register the model in MLflow (MLFLOW_TRACKING_URI, else the "
            "embedded store under build/mlflow)."
        ),
    ] = True,
    alias: Annotated[
        str | None, typer.Option(help="With --register: point this alias at the new version.")
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(help="Show the steps done and the time left on stderr (a terminal only)."),
    ] = True,
) -> None:
    """Train the credit model on the bundled credit_data set: artifact, card and report."""
    from consumer.cli.terminal import progress_bar
    from consumer.telemetry.logs import configure_logging
    from training.train import TRAINING_STEPS, train_model

    configure_logging("INFO")
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("training", total=TRAINING_STEPS)
        started = False

        def step(description: str) -> None:
            nonlocal started
            bar.update(task, description=description, advance=1 if started else 0)
            started = True

        card = train_model(out_dir=out, seed=seed, step=step)
        bar.update(task, completed=TRAINING_STEPS)
    typer.echo(f"model {card.model_version} written to {out}")
    if register:
        from registry.register import register_model_dir

        version = register_model_dir(out, alias)
        typer.echo(f"registered as {card.model_version} version {version}")
