"""The schema registry at the edges: register the contracts, check a change, look ids up, write.

Everything here speaks the Confluent-compatible REST API through confluent-kafka's own
`SchemaRegistryClient`, so it works against Confluent's registry, Apicurio's `/apis/ccompat/v7`
(what scripts/registry-local.sh runs) or Karapace alike. The one exception is the diff shown when
a change is refused: the compatibility endpoint answers only true or false on Apicurio, so there
its native dry-run API is asked for the list of incompatible differences (a registry that sends
`messages` itself, as Confluent's does, is quoted as is).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from consumer.config.settings import Settings
from consumer.kafka.errors import StopScoringError
from schemas.errors import UnknownSchemaError
from schemas.registry import (
    COMPATIBILITY,
    CONTRACTS,
    JSON_DIR,
    SCORE,
    Contract,
    contract_schema_text,
    subject_for,
)
from schemas.wire import WriterSchema

logger = logging.getLogger(__name__)

_CCOMPAT_SUFFIX = "/apis/ccompat/v7"
_NOT_FOUND_CODES = frozenset({40401, 40402, 40403})
_NO_SUBJECT_LEVEL = 40408

CheckStatus = Literal[
    "unchanged", "compatible", "incompatible", "unregistered", "wrong_compatibility"
]
# What fails `schemas check`: a refused change, or a subject whose compatibility is not the
# policy's (the registry would then judge every change by another rule, or by none).
FAILING: frozenset[CheckStatus] = frozenset({"incompatible", "wrong_compatibility"})


class SchemaRegistryUnavailableError(StopScoringError):
    """The registry could not say what a schema id is (unreachable, 5xx). The record is neither
    scored nor dead-lettered on a guess: the scorer stops, the batch is not committed, and a
    restarted scorer reads it again."""


class SchemaRegistryNotConfiguredError(RuntimeError):
    """A registry command without LOAN_SCORER_SCHEMA_REGISTRY_URL."""


class ContractNotRegisteredError(StopScoringError):
    """The scorer was pointed at a registry that does not hold the output contract it writes."""


def registry_client(settings: Settings) -> SchemaRegistryClient:
    if settings.schema_registry_url is None:
        raise SchemaRegistryNotConfiguredError("set LOAN_SCORER_SCHEMA_REGISTRY_URL")
    return SchemaRegistryClient(_client_config(settings))


def _client_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "url": settings.schema_registry_url,
        "timeout": settings.schema_registry_timeout_s,
    }
    if settings.schema_registry_username is not None and settings.schema_registry_password:
        password = settings.schema_registry_password.get_secret_value()
        config["basic.auth.user.info"] = f"{settings.schema_registry_username}:{password}"
    return config


def topic_of(contract: Contract, settings: Settings) -> str:
    topics = {
        "input": settings.input_topic,
        "output": settings.output_topic,
        "outcomes": settings.outcomes_topic,
    }
    return topics[contract.role]


@dataclass(frozen=True, slots=True)
class Registered:
    contract: str
    subject: str
    schema_id: int
    version: int


def register_contracts(
    client: SchemaRegistryClient, settings: Settings, schemas_dir: Path = JSON_DIR
) -> list[Registered]:
    """Every contract under its topic's subject, the subject's compatibility set first so the
    registration itself is checked against the versions already there."""
    registered = []
    for contract in CONTRACTS:
        subject = subject_for(topic_of(contract, settings))
        client.set_compatibility(subject, COMPATIBILITY)
        schema = Schema(contract_schema_text(contract, schemas_dir), "JSON")
        client.register_schema(subject, schema)
        found = client.lookup_schema(subject, schema)
        registered.append(
            Registered(contract.name, subject, int(found.schema_id or 0), int(found.version or 0))
        )
    return registered


@dataclass(frozen=True, slots=True)
class CheckResult:
    contract: str
    subject: str
    status: CheckStatus
    diff: tuple[str, ...] = ()


def check_contracts(
    client: SchemaRegistryClient, settings: Settings, schemas_dir: Path = JSON_DIR
) -> list[CheckResult]:
    """The working tree's schemas against every version registered under their subjects."""
    results = []
    for contract in CONTRACTS:
        subject = subject_for(topic_of(contract, settings))
        text = contract_schema_text(contract, schemas_dir)
        results.append(_check(client, settings, contract.name, subject, text))
    return results


def _check(
    client: SchemaRegistryClient, settings: Settings, name: str, subject: str, text: str
) -> CheckResult:
    schema = Schema(text, "JSON")
    try:
        client.get_versions(subject)
    except SchemaRegistryError as error:
        if error.error_code in _NOT_FOUND_CODES:
            return CheckResult(name, subject, "unregistered")
        raise
    try:
        level = client.get_compatibility(subject)
    except SchemaRegistryError as error:
        if error.error_code != _NO_SUBJECT_LEVEL:  # Confluent: the subject has no level of its own
            raise
        level = "not set on the subject"
    if level != COMPATIBILITY:
        return CheckResult(
            name,
            subject,
            "wrong_compatibility",
            (f"the subject is at {level}; the policy is {COMPATIBILITY} (run schemas register)",),
        )
    try:
        client.lookup_schema(subject, schema)
        return CheckResult(name, subject, "unchanged")
    except SchemaRegistryError as error:
        if error.error_code not in _NOT_FOUND_CODES:
            raise
    if client.test_compatibility_all_versions(subject, schema):
        return CheckResult(name, subject, "compatible")
    return CheckResult(name, subject, "incompatible", _registry_diff(settings, subject, text))


def _registry_diff(settings: Settings, subject: str, text: str) -> tuple[str, ...]:
    """The registry's own words for why `text` is refused under `subject`."""
    url = str(settings.schema_registry_url).rstrip("/")
    quoted = urllib.parse.quote(subject, safe="")
    answer = _post(
        settings,
        f"{url}/compatibility/subjects/{quoted}/versions?verbose=true",
        {"schemaType": "JSON", "schema": text},
    )
    messages = answer.get("messages")
    if isinstance(messages, list) and messages:
        return tuple(str(message) for message in messages)
    if url.endswith(_CCOMPAT_SUFFIX):  # Apicurio: its native API's dry run lists the diff
        native = url.removesuffix(_CCOMPAT_SUFFIX) + "/apis/registry/v3"
        dry_run = _post(
            settings,
            f"{native}/groups/default/artifacts/{quoted}/versions?dryRun=true",
            {"content": {"content": text, "contentType": "application/json"}},
            "application/json",
        )
        causes = dry_run.get("causes")
        if isinstance(causes, list) and causes:
            return tuple(
                f"{cause.get('description')} at {cause.get('context')}" for cause in causes
            )
    return ("the registry refused the change and gave no details",)


def _post(
    settings: Settings,
    url: str,
    body: dict[str, Any],
    content_type: str = "application/vnd.schemaregistry.v1+json",
) -> dict[str, Any]:
    """One JSON POST whose error answers are read too (a 409 carries the diff)."""
    request = urllib.request.Request(  # noqa: S310  # the URL is the configured registry's
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": content_type},
    )
    config = _client_config(settings)
    if "basic.auth.user.info" in config:
        token = base64.b64encode(str(config["basic.auth.user.info"]).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=settings.schema_registry_timeout_s) as reply:  # noqa: S310
            payload = reply.read()
    except urllib.error.HTTPError as error:
        payload = error.read()
    try:
        answer = json.loads(payload)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def schema_lookup(client: SchemaRegistryClient, subject: str) -> Callable[[int], WriterSchema]:
    """Which version of `subject` a schema id is; `UnknownSchemaError` when it is none,
    `SchemaRegistryUnavailableError` when the registry cannot say."""

    def lookup(schema_id: int) -> WriterSchema:
        try:
            versions = client.get_schema_versions(schema_id)
        except SchemaRegistryError as error:
            if error.error_code in _NOT_FOUND_CODES or error.http_status_code == 404:
                raise UnknownSchemaError(
                    f"schema id {schema_id} is not in the schema registry"
                ) from None
            raise SchemaRegistryUnavailableError(
                f"the schema registry could not look up schema id {schema_id}: {error}"
            ) from None
        except Exception as error:  # the HTTP client's own errors: connection, timeout
            raise SchemaRegistryUnavailableError(
                f"the schema registry could not be reached for schema id {schema_id}: "
                f"{type(error).__name__}"
            ) from None
        mine = [version.version for version in versions if version.subject == subject]
        if not mine or mine[0] is None:
            raise UnknownSchemaError(f"schema id {schema_id} is not a version of {subject}")
        return WriterSchema(schema_id=schema_id, version=int(mine[0]))

    return lookup


def loan_scored_framing(client: SchemaRegistryClient, topic: str) -> Callable[[bytes], bytes]:
    """A `LoanScored`'s plain JSON -> the registry's wire format, by its `JSONSerializer`, never
    registering (the contract is registered up front by `loan-scorer schemas register`; a scorer
    that could register would let a deployment change the contract). The pipeline encodes the
    event as it always does and the serializer frames it: pydantic has validated the event
    already, so the serializer's own validation is off."""
    text = contract_schema_text(SCORE)
    subject = subject_for(topic)
    try:
        client.lookup_schema(subject, Schema(text, "JSON"))
    except SchemaRegistryError as error:
        if error.error_code in _NOT_FOUND_CODES:
            raise ContractNotRegisteredError(
                f"LoanScored is not registered under {subject}: run `loan-scorer schemas register`"
            ) from None
        raise SchemaRegistryUnavailableError(f"the schema registry answered: {error}") from None
    except Exception as error:  # the HTTP client's own errors: connection, timeout
        raise SchemaRegistryUnavailableError(
            f"the schema registry could not be reached: {type(error).__name__}"
        ) from None
    serializer = JSONSerializer(
        text,
        client,
        to_dict=lambda plain_json, _ctx: json.loads(plain_json),
        conf={"auto.register.schemas": False, "validate": False},
    )
    context = SerializationContext(topic, MessageField.VALUE)

    def frame_score(plain_json: bytes) -> bytes:
        value: bytes | None = serializer(plain_json, context)
        if value is None:  # only a None input serializes to None
            raise ValueError("the serializer returned no bytes for a LoanScored event")
        return value

    return frame_score
