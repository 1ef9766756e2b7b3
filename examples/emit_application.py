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

With `--schema-registry-url URL` (e.g. http://localhost:8081/apis/ccompat/v7) the value is
written in the schema registry's wire format by confluent-kafka's `JSONSerializer` (installed with
`confluent-kafka[schemaregistry,json]`): the latest version of the contract registered under
`<topic>-value` (by `loan-scorer schemas register`), validated before it is sent, its schema id
in the record. The producer never registers: a contract changes through review, not at runtime.
An event the contract refuses is not sent, and the exit code is 1.

Each event starts a trace: a W3C `traceparent` header (a random trace id, this send as its span,
sampled) that the scorer continues in the score's or dead letter's own `traceparent` (same trace
id, its own span id), and the CRM example after it. Its trace id is printed with the event id;
with OpenTelemetry in the upstream system, inject the current span's context instead
(`opentelemetry.propagate.inject(carrier)`) and the scorer's spans join that trace.
"""

from __future__ import annotations

import argparse
import functools
import json
import secrets
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.serialization import SerializationError


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


def new_traceparent() -> str:
    """A W3C `traceparent` that starts a trace: version 00, random non-zero ids, sampled."""
    trace_id = span_id = ""
    while trace_id.strip("0") == "" or span_id.strip("0") == "":
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01"


def _registry_serializer(url: str | None, topic: str) -> Callable[[bytes], bytes] | None:
    """JSON bytes -> the registry's wire format, with the latest registered contract."""
    if url is None:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = SchemaRegistryClient({"url": url, "timeout": 10})
    latest = client.get_latest_version(f"{topic}-value")
    serializer = JSONSerializer(
        str(latest.schema.schema_str),
        client,
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    context = SerializationContext(topic, MessageField.VALUE)

    def serialize(value: bytes) -> bytes:
        framed: bytes | None = serializer(json.loads(value), context)
        if framed is None:
            raise SerializationError("the serializer returned nothing")
        return framed

    return serialize


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="event files, one JSON event each")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", default="loan-applications")
    parser.add_argument("--new-event", action="store_true", help="fresh event_id and occurred_at")
    parser.add_argument(
        "--schema-registry-url", default=None, help="write in the registry's wire format"
    )
    args = parser.parse_args(argv)

    serialize = _registry_serializer(args.schema_registry_url, args.topic)
    producer = Producer(
        {"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message, *, traceparent: str) -> None:
        if error is not None:
            failures.append(f"{message.key()!r}: {error.str()}")
            return
        value = message.value() or b"{}"
        payload = value[5:] if value[:1] == b"\x00" else value  # past the registry's framing
        event_id = json.loads(payload).get("event_id")
        print(
            f"sent {message.key()!r} event {event_id} to {message.topic()}/{message.partition()}"
            f" trace {traceparent.split('-')[1]}"
        )

    for path in args.files:
        key, value = record_for(path.read_bytes(), new_event=args.new_event)
        if serialize is not None:
            try:
                value = serialize(value)
            except SerializationError as error:
                failures.append(f"{path}: refused by the registered contract: {error}")
                continue
        traceparent = new_traceparent()
        producer.produce(
            args.topic,
            key=key,
            value=value,
            headers=[("traceparent", traceparent.encode())],
            on_delivery=functools.partial(delivered, traceparent=traceparent),
        )
    remaining = producer.flush(30)
    if remaining or failures:
        print(f"not delivered: {remaining} pending, failures: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
