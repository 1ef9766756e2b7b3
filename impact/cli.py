"""The `loan-scorer report` command: read pairs (or build them from the data set), write HTML.

Registered on the main CLI by `consumer.cli`; heavy imports happen inside the command.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_MODEL_DIR = Path("build/model")


def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.", dir_okay=False)],
    pairs: Annotated[
        Path | None,
        typer.Option(
            "--pairs",
            help="Joined pairs (.csv or .parquet, the impact.pairs contract), e.g. exported by "
            "`loan-scorer outcomes`.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    from_dataset: Annotated[
        bool,
        typer.Option(
            "--from-dataset",
            help="Instead of --pairs: the model's scores on the data set's held-out test split "
            "joined with its real labels (a report before any production outcome).",
        ),
    ] = False,
    challenger_model_dir: Annotated[
        Path | None,
        typer.Option(
            "--challenger-model-dir",
            help="With --from-dataset: a second model that scores the same rows in shadow.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    applications: Annotated[
        Path | None,
        typer.Option(
            "--applications",
            help="The scored applications as JSON Lines (LoanApplicationSubmitted v1), for "
            "feature drift.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model-dir",
            help="The champion's model directory (its card is the drift baseline); default "
            "LOAN_SCORER_MODEL_DIR, else build/model.",
        ),
    ] = None,
    what_if_policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--what-if-policy",
            help="A policy file to compare (repeatable); default: every bundled policy.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    what_if_approve_below: Annotated[
        list[float] | None,
        typer.Option(
            "--what-if-approve-below",
            help="Compare the recorded policy with this approve cut-off (repeatable); "
            "default 0.15 and 0.25.",
        ),
    ] = None,
    lgd: Annotated[
        float,
        typer.Option(help="Loss given default for expected loss (0-1).", min=0.0, max=1.0),
    ] = 0.45,
) -> None:
    """Write a self-contained HTML impact report for a risk analyst."""
    from impact.report import render_report
    from impact.report_inputs import build_report_input

    if (pairs is None) == (not from_dataset):
        typer.echo("give exactly one of --pairs FILE and --from-dataset", err=True)
        raise typer.Exit(2)
    directory = model_dir or Path(os.environ.get("LOAN_SCORER_MODEL_DIR") or DEFAULT_MODEL_DIR)
    data = build_report_input(
        pairs_path=pairs,
        model_dir=directory,
        challenger_model_dir=challenger_model_dir,
        applications_path=applications,
        what_if_policy_paths=what_if_policy or [],
        what_if_approve_below=what_if_approve_below,
        lgd=lgd,
        generated_at=datetime.now(UTC),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    typer.echo(f"report written to {out.resolve()}")
