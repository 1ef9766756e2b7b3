r"""Publish loan applications to loan-scorer's input topic: what an upstream system does.

    python examples/emit_application.py --bootstrap-servers localhost:9092 \
        --topic loan-applications examples/application.v1.json

Each file is one `LoanApplicationSubmitted` v1 event (its JSON Schema is
schemas/json/loan_application_submitted.v1.json). The record key is its `application_id`, so
every event of an application lands on one partition and is scored in order. The producer is
idempotent with `acks=all`: a retry after a lost acknowledgement never writes the record twice.
Resending the same file resends the same `event_id`; `--new-event` gives the copy a fresh
`event_id` and `occurred_at` (a new submission of the same application). Only `confluent-kafka`
and the standard library are needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer


def record_for(raw: bytes, *, new_event: bool) -> tuple[bytes, bytes]:
    """The (key, value) to publish for one event file; the value is the file itself unless a
    fresh event is asked for (the key needs the application id, so the file must be JSON)."""
    event = json.loads(raw)
    key = str(event["application_id"]).encode()
    if not new_event:
        return key, raw
    event["event_id"] = str(uuid.uuid4())
    event["occurred_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    return key, json.dumps(event, separators=(",", ":")).encode()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="event files, one JSON event each")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", default="loan-applications")
    parser.add_argument("--new-event", action="store_true", help="fresh event_id and occurred_at")
    args = parser.parse_args(argv)

    producer = Producer(
        {"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(f"{message.key()!r}: {error.str()}")
            return
        event_id = json.loads(message.value() or b"{}").get("event_id")
        print(f"sent {message.key()!r} event {event_id} to {message.topic()}/{message.partition()}")

    for path in args.files:
        key, value = record_for(path.read_bytes(), new_event=args.new_event)
        producer.produce(args.topic, key=key, value=value, on_delivery=delivered)
    remaining = producer.flush(30)
    if remaining or failures:
        print(f"not delivered: {remaining} pending, failures: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
