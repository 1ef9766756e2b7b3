"""The `loan-scorer` command line: one entry point for the offline and online jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="loan-scorer",
    help="Real-time credit scoring of loan-application events on Kafka.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def train(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the model artifact, card and report.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed, the same model.")] = 42,
) -> None:
    """Train the credit model on the bundled credit_data set and write artifact, card and report."""
    from training.train import train_model

    card = train_model(out_dir=out, seed=seed)
    typer.echo(f"model {card.model_version} written to {out}")
