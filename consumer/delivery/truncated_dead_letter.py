"""The dead letter of last resort: for an input whose output (score or dead letter) the client or
broker keeps refusing, a copy small enough to be written anywhere a dead letter can be.

The value is cut to `TRUNCATED_VALUE_BYTES` and the key to `TRUNCATED_KEY_BYTES`; the original's
size, SHA-256 and position (topic, partition, offset) are in the headers, so the full record can
be found upstream and the copy checked against it. The original headers are dropped (they may be
what made the record too large) but for the refused output's trace context (`traceparent`, and a
`tracestate` of at most 512 bytes: consumer/telemetry/trace_context.py), so the trace goes on;
the timestamp is the producer's (the original's may be what the broker refused).
"""

from __future__ import annotations

from datetime import datetime

from consumer.records import InboundMessage, OutboundRecord, RecordHeaders, as_bytes
from schemas.dead_letter import dead_letter_headers, original_value_headers
from schemas.errors import OutputRefusedError

TRUNCATED_VALUE_BYTES = 1024
TRUNCATED_KEY_BYTES = 256


def truncated_dead_letter(
    message: InboundMessage,
    *,
    dlq_topic: str,
    refused_topic: str,
    refusal: str,
    failed_at: datetime,
    trace_headers: RecordHeaders | None = None,
) -> OutboundRecord:
    value = as_bytes(message.value())
    key = as_bytes(message.key())
    error = OutputRefusedError(
        f"the output for this record could not be written to {refused_topic} ({refusal}); "
        f"dead-lettered with its value cut to {TRUNCATED_VALUE_BYTES} bytes"
    )
    headers = dead_letter_headers(
        error,
        topic=str(message.topic()),
        partition=int(message.partition() or 0),
        offset=int(message.offset() or 0),
        failed_at=failed_at,
    )
    return OutboundRecord(
        topic=dlq_topic,
        key=key[:TRUNCATED_KEY_BYTES] if key is not None else None,
        value=value[:TRUNCATED_VALUE_BYTES] if value is not None else None,
        headers=[*headers, *original_value_headers(value), *(trace_headers or ())],
    )
