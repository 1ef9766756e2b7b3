"""`loan-scorer schemas register|check`: the contracts in a schema registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumer.cli.common import EnvFile, load_or_exit

schemas_app = typer.Typer(
    help="The contracts in a schema registry (LOAN_SCORER_SCHEMA_REGISTRY_URL): register, check.",
    no_args_is_help=True,
)

SchemasDir = Annotated[
    Path | None,
    typer.Option(
        "--schemas-dir",
        help="Where the JSON Schema files are (default: the package's schemas/json).",
        exists=True,
        file_okay=False,
    ),
]


@schemas_app.command("register")
def schemas_register(env_file: EnvFile = None, schemas_dir: SchemasDir = None) -> None:
    """Register every contract under its topic's subject (`<topic>-value`) with the policy's
    compatibility (FORWARD_TRANSITIVE); exit 1 with the registry's diff if it refuses one."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from consumer.kafka.schema_registry import register_contracts, registry_client
    from schemas.registry import JSON_DIR

    settings = load_or_exit(env_file)
    try:
        registered = register_contracts(
            registry_client(settings), settings, schemas_dir or JSON_DIR
        )
    except SchemaRegistryError as error:
        typer.echo(f"the registry refused: {error}", err=True)
        raise typer.Exit(1) from None
    for item in registered:
        typer.echo(
            f"{item.contract}: {item.subject} version {item.version} (schema id {item.schema_id})"
        )


@schemas_app.command("check")
def schemas_check(env_file: EnvFile = None, schemas_dir: SchemasDir = None) -> None:
    """Test the working tree's schemas against every registered version of their subjects;
    exit 1 on a change the registry would refuse, with the registry's own diff."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from consumer.kafka.schema_registry import FAILING, check_contracts, registry_client
    from schemas.registry import JSON_DIR

    settings = load_or_exit(env_file)
    try:
        results = check_contracts(registry_client(settings), settings, schemas_dir or JSON_DIR)
    except SchemaRegistryError as error:  # no verdict: exit 2, not the 1 of a breaking change
        typer.echo(f"the registry could not check the schemas: {error}", err=True)
        raise typer.Exit(2) from None
    for result in results:
        typer.echo(f"{result.contract} ({result.subject}): {result.status}")
        for line in result.diff:
            typer.echo(f"  {line}")
    if any(result.status in FAILING for result in results):
        raise typer.Exit(1)
