"""`loan-scorer tail`: follow the committed scores (or dead letters) and print a line for each.

Lines are for people (who, decision, PD, first reason, model and policy version); `--json` prints
one JSON object per record instead, for `jq` and scripts. A topic that does not exist is an error,
not an empty stream: following it would print nothing forever and look like a quiet day.

Scores are read in plain JSON and in the schema registry's wire format alike (a scorer with a
registry frames them; a topic switched to one still holds the plain ones written before): the
first byte tells them apart, and the JSON inside is judged by the same strict `LoanScored`
decoder. With LOAN_SCORER_SCHEMA_REGISTRY_URL set, the schema id of a framed score is looked up
as the scorer looks up its inputs' (once per id): an id that is no version of the output subject
is `unknown_schema`. A record that cannot be read is a line saying why, never a stopped tail.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, Message

from consumer.config.settings import Settings
from consumer.kafka.errors import StopScoringError
from consumer.kafka.topics import topic_metadata, topic_problem
from consumer.records import header_list
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import EventDecodeError
from schemas.registry import subject_for
from schemas.score_v1 import LoanScored
from schemas.wire import SchemaLookup, WriterSchemas, unframe


class TopicMissingError(RuntimeError):
    """The topic to follow does not exist (or cannot be described)."""


def read_score(value: bytes | None, writer_schemas: SchemaLookup | None = None) -> LoanScored:
    """A score in plain JSON or in the registry's wire format (its schema id checked by
    `writer_schemas` when a registry is configured); `EventDecodeError` if neither."""
    schema_id, payload = unframe(value)
    if schema_id is not None and writer_schemas is not None:
        writer_schemas(schema_id)
    return decode_loan_scored(payload)


def format_score(value: bytes | None, writer_schemas: SchemaLookup | None = None) -> str:
    """One line per score: who, what, how likely, the first reason, and which model and policy."""
    try:
        scored = read_score(value, writer_schemas)
    except EventDecodeError as error:
        return f"(unreadable score: {error.reason.value}: {error.message})"
    except StopScoringError as error:  # the registry could not say what the schema id is
        return f"(score not checked: {error})"
    top = scored.reasons[0].code if scored.reasons else "-"
    return (
        f"{scored.application_id:<24} {scored.decision.value:<8} grade {scored.risk_grade.value} "
        f"PD {scored.probability_of_default:6.1%}  {top}  "
        f"[{scored.model_version} {scored.policy_version}]"
    )


def score_json(value: bytes | None, writer_schemas: SchemaLookup | None = None) -> str:
    """The score as published (validated), or an object saying why it cannot be read."""
    try:
        return read_score(value, writer_schemas).model_dump_json()
    except EventDecodeError as error:
        return json.dumps({"unreadable": error.reason.value, "message": error.message})
    except StopScoringError as error:
        return json.dumps({"unchecked": str(error)})


def format_dead_letter(message: Message) -> str:
    key = message.key()
    application = key.decode(errors="replace") if isinstance(key, bytes) else "-"
    try:
        context = parse_dead_letter_headers(header_list(message.headers()))
    except ValueError:
        return f"{application:<24} (dead letter without reason headers)"
    return (
        f"{application:<24} {context.reason.value:<20} {context.topic}/{context.partition}"
        f"@{context.offset}  {context.message}"
    )


def dead_letter_json(message: Message) -> str:
    """The dead letter's key and reason headers (never its value: it may hold applicant data)."""
    key = message.key()
    record: dict[str, object] = {
        "key": key.decode(errors="replace") if isinstance(key, bytes) else key
    }
    try:
        context = parse_dead_letter_headers(header_list(message.headers()))
    except ValueError:
        record["reason"] = None
    else:
        record.update(
            reason=context.reason.value,
            topic=context.topic,
            partition=context.partition,
            offset=context.offset,
            message=context.message,
            failed_at=context.failed_at.isoformat(),
        )
    return json.dumps(record)


def _line(
    message: Message, *, dead_letters: bool, as_json: bool, writer_schemas: SchemaLookup | None
) -> str:
    if dead_letters:
        return dead_letter_json(message) if as_json else format_dead_letter(message)
    value = message.value()
    return score_json(value, writer_schemas) if as_json else format_score(value, writer_schemas)


def _writer_schemas(settings: Settings, topic: str) -> SchemaLookup | None:
    """The output subject's schema ids, asked once each; None without a registry."""
    if settings.schema_registry_url is None:
        return None
    from consumer.kafka.schema_registry import registry_client, schema_lookup

    return WriterSchemas(schema_lookup(registry_client(settings), subject_for(topic)))


def follow(
    settings: Settings,
    *,
    dead_letters: bool,
    from_beginning: bool,
    limit: int | None,
    idle_exit_s: float | None,
    write: Callable[[str], None],
    as_json: bool = False,
) -> int:
    """Print committed records until `limit`, `idle_exit_s` of silence, or Ctrl-C.

    Raises `TopicMissingError` before reading if the topic does not exist.
    """
    topic = settings.dlq_topic if dead_letters else settings.output_topic
    consumer = Consumer(
        {
            **settings.kafka_common_config(),
            # A throwaway group: watching must never move the CRM's or anyone's offsets.
            "group.id": f"loan-scorer-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "isolation.level": "read_committed",
        }
    )
    writer_schemas = None if dead_letters else _writer_schemas(settings, topic)
    shown = 0
    try:
        _require_topic(consumer, topic, "dead-letter" if dead_letters else "output", settings)
        consumer.subscribe([topic])
        last_record = time.monotonic()
        while limit is None or shown < limit:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                if idle_exit_s is not None and time.monotonic() - last_record > idle_exit_s:
                    break
                continue
            last_record = time.monotonic()
            line = _line(
                message, dead_letters=dead_letters, as_json=as_json, writer_schemas=writer_schemas
            )
            write(line)
            shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return shown


def _require_topic(consumer: Consumer, topic: str, role: str, settings: Settings) -> None:
    try:
        found = topic_metadata(consumer, topic, settings.kafka_timeout_s)
    except KafkaException as exc:
        raise TopicMissingError(f"cannot list the topics: {exc.args[0].str()}") from None
    problem = topic_problem(found, topic, role)
    if problem is not None:
        raise TopicMissingError(problem)
