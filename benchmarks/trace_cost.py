"""What trace context costs the scorer per event, in process: `python -m benchmarks.trace_cost`.

Times the loop's tracing work on batches of the scorer's size made of real `confluent_kafka`
messages (`Tracing.batch`, then `stamp` on an outcome of one score per input, then `published`),
in four cases:

- off: no SDK and no input carrying a `traceparent` (the usual deployment): the one header
  check per event;
- off, traced inputs: no SDK, every input with a `traceparent`: parse it, draw a child span id,
  write the header;
- on, untraced inputs: an SDK (a `BatchSpanProcessor` to an exporter that drops the spans) and
  no traced input: the batch's four spans;
- on, traced inputs: the SDK and every input traced: a recorded `process` span each.

Prints CPU microseconds per event (this process's, the exporting thread's included; the best of
the repeats, as other processes on a shared machine only add to it) and one JSON line. The whole
scorer costs about 50 µs per event on the bench machine (`make bench`), so 1 µs is 2 %.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from confluent_kafka import Message
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from benchmarks.testbed import BATCH_MAX_EVENTS
from consumer.records import BatchOutcome, OutboundRecord, RecordHeaders
from consumer.telemetry.tracing import Tracing


class DroppingExporter(SpanExporter):
    """Takes every span and keeps none: the SDK's cost without a collector's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        del spans
        return SpanExportResult.SUCCESS


def _messages(traced: bool, count: int) -> list[Message]:
    headers: RecordHeaders = [
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    ]
    return [
        Message(
            topic="loan-applications",
            partition=0,
            offset=offset,
            key=b"app-1",
            value=b"{}",
            headers=headers if traced else None,
        )
        for offset in range(count)
    ]


def us_per_event(tracing: Tracing, messages: list[Message], batches: int, repeats: int) -> float:
    outcome = BatchOutcome(
        records=[OutboundRecord("loan-scores", b"app-1", b"{}") for _ in messages]
    )
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(batches):
            trace = tracing.batch(messages, tracing.clock())
            if trace is not None:
                trace.stamp(outcome)
                trace.published(True)
        timings.append(time.process_time() - started)
    return 1e6 * min(timings) / (batches * len(messages))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trace_cost", description=__doc__)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
    off, on = Tracing(), Tracing(provider.get_tracer("bench"))
    plain, traced = _messages(False, BATCH_MAX_EVENTS), _messages(True, BATCH_MAX_EVENTS)
    cases = {
        "off": (off, plain),
        "off, traced inputs": (off, traced),
        "on, untraced inputs": (on, plain),
        "on, traced inputs": (on, traced),
    }
    results = {
        name: round(us_per_event(tracing, messages, args.batches, args.repeats), 2)
        for name, (tracing, messages) in cases.items()
    }
    provider.shutdown()
    print(f"| case | CPU µs / event (batches of {BATCH_MAX_EVENTS:,}) |")
    print("|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value:.2f} |")
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
