"""`loan-scorer tail`: follow the committed scores (or dead letters) and print a line for each."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Message

from consumer.batch import header_list
from consumer.settings import Settings
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import EventDecodeError


def format_score(value: bytes | None) -> str:
    """One line per score: who, what, how likely, and the first reason."""
    try:
        scored = decode_loan_scored(value)
    except EventDecodeError as error:
        return f"(unreadable score: {error.reason.value})"
    top = scored.reasons[0].code if scored.reasons else "-"
    return (
        f"{scored.application_id:<24} {scored.decision.value:<8} grade {scored.risk_grade.value} "
        f"PD {scored.probability_of_default:6.1%}  {top}  [{scored.model_version}]"
    )


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


def follow(
    settings: Settings,
    *,
    dead_letters: bool,
    from_beginning: bool,
    limit: int | None,
    idle_exit_s: float | None,
    write: Callable[[str], None],
) -> int:
    """Print committed records until `limit`, `idle_exit_s` of silence, or Ctrl-C."""
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
    consumer.subscribe([topic])
    shown = 0
    last_record = time.monotonic()
    try:
        while limit is None or shown < limit:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                if idle_exit_s is not None and time.monotonic() - last_record > idle_exit_s:
                    break
                continue
            last_record = time.monotonic()
            write(format_dead_letter(message) if dead_letters else format_score(message.value()))
            shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return shown
