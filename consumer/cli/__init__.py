"""The `loan-scorer` command line: one entry point for the offline and online jobs.

One module per command group; this one only assembles them. Heavy imports (scikit-learn,
confluent-kafka) happen inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import sys

import typer

from consumer.cli import api_keys, demo, outcomes, rescore, schemas, scorer, stream_tools, train
from impact import cli as impact_cli
from registry.cli import model_app

app = typer.Typer(
    name="loan-scorer",
    help="Real-time credit scoring of loan-application events on Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(train.train)
app.command()(scorer.run)
app.command()(demo.produce)
app.command()(outcomes.outcomes)
app.command()(stream_tools.tail)
app.command()(rescore.rescore)
app.command()(stream_tools.validate)
app.add_typer(schemas.schemas_app, name="schemas")
app.command(name="report")(impact_cli.report)
app.add_typer(model_app, name="model")
app.add_typer(api_keys.api_key_app, name="api-key")


def main() -> None:  # pragma: no cover - the console script's entry point
    sys.exit(app())
