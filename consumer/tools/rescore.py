"""`loan-scorer rescore`: score a book of applications again, with a chosen model and policy.

The risk team's job when a challenger model or a new policy is proposed: read every application
(a topic from its beginning to its current end, read_committed, or the bundled data set), score
them in big batches through the stream's own `ScoringPipeline` (the same decoder, the same
`score_batch_isolated`, the same `LoanScored` mapping, the same dead letters with Connect's
headers) and write the results to a topic or to a JSON Lines file. Invalid input is never dropped:
it is counted by reason and written to a dead-letter topic or file.

The sources it reads are in rescore_sources.py; this module holds the job, its destinations and
its sinks.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, Protocol

import orjson
from confluent_kafka import KafkaError, Message, Producer

from consumer.kafka.config import KafkaConfig
from consumer.kafka.produce import QueueFullError, produce_record
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import InboundMessage, OutboundRecord
from consumer.tools.wording import counted

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2_000
DATASET_SOURCE_NAME = "credit_data"

Progress = Callable[[int], None]


class RescoreError(RuntimeError):
    """The job cannot run as asked (a missing topic, a refused destination, undelivered output)."""


# -- where the results go ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    """Where scores and dead letters go: two topics, or two JSON Lines files."""

    kind: Literal["topic", "file"]
    scores: str
    dead_letters: str


def resolve_destination(
    *,
    to_topic: str | None,
    to_file: Path | None,
    dead_letters: str | None,
    from_topic: str | None,
) -> Destination:
    """Exactly one of `to_topic`/`to_file`; dead letters beside the scores unless named; never
    back into the topic being read (the job would chase its own output)."""
    if to_topic is not None and to_file is None:
        destination = Destination("topic", to_topic, dead_letters or f"{to_topic}.dlq")
        if from_topic is not None and from_topic in (destination.scores, destination.dead_letters):
            raise RescoreError(f"refusing to write into {from_topic}, the topic being read")
    elif to_file is not None and to_topic is None:
        default_dlq = to_file.with_name(to_file.name.removesuffix(".jsonl") + ".dlq.jsonl")
        destination = Destination("file", str(to_file), dead_letters or str(default_dlq))
    else:
        raise RescoreError("give exactly one of --to-topic and --to-file")
    if destination.scores == destination.dead_letters:
        raise RescoreError("scores and dead letters must go to different places")
    return destination


# -- sources: batches of messages, and how far each batch moves the progress bar ---------------


class Source(Protocol):
    name: str
    total: int  # what the progress bar counts to

    def batches(self) -> Iterator[tuple[Sequence[InboundMessage], int]]: ...


# -- sinks -------------------------------------------------------------------------------------


class Sink(Protocol):
    def write(self, record: OutboundRecord) -> None: ...
    def close(self) -> None: ...


class TopicSink:
    """An idempotent producer; `close` waits for every acknowledgement and raises if any failed."""

    def __init__(self, config: KafkaConfig, timeout_s: float = 60.0) -> None:
        self._producer = Producer(
            {
                **config,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
            }
        )
        self._failures: list[KafkaError] = []
        self._timeout_s = timeout_s

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failures.append(error)

    def write(self, record: OutboundRecord) -> None:
        """Waits while librdkafka's queue is full, up to `timeout_s`: brokers that take nothing
        (away, refusing every record) end the run with an error, not a wait without end."""
        try:
            produce_record(
                self._producer, record, self._on_delivery, time.monotonic() + self._timeout_s
            )
        except QueueFullError:
            raise RescoreError(
                f"nothing could be sent to {record.topic} for {self._timeout_s:.0f} s "
                "(librdkafka's queue stayed full: the brokers take no records)"
            ) from None
        self._producer.poll(0)

    def close(self) -> None:
        undelivered = self._producer.flush(self._timeout_s)
        if undelivered or self._failures:
            first = f" ({self._failures[0].name()})" if self._failures else ""
            raise RescoreError(
                f"{undelivered} records undelivered, {len(self._failures)} failed{first}"
            )


def dead_letter_line(record: OutboundRecord) -> bytes:
    """A dead letter as one JSON line: its key, its untouched bytes (base64) and the headers
    that say why."""
    return orjson.dumps(
        {
            "key": record.key.decode(errors="replace") if record.key is not None else None,
            "value_base64": base64.b64encode(record.value or b"").decode(),
            "headers": [
                [name, value.decode(errors="replace") if isinstance(value, bytes) else value]
                for name, value in record.headers or ()
            ],
        }
    )


class JsonLinesSink:
    """`LoanScored` events one per line in one file; dead letters in another."""

    def __init__(self, destination: Destination) -> None:
        self._scores_name = destination.scores
        self._scores: IO[bytes] = Path(destination.scores).open("wb")  # noqa: SIM115  # closed in close()
        self._dead_letters: IO[bytes] = Path(destination.dead_letters).open("wb")  # noqa: SIM115

    def write(self, record: OutboundRecord) -> None:
        if record.topic == self._scores_name:
            self._scores.write((record.value or b"") + b"\n")
        else:
            self._dead_letters.write(dead_letter_line(record) + b"\n")

    def close(self) -> None:
        self._scores.close()
        self._dead_letters.close()


# -- the job -----------------------------------------------------------------------------------


@dataclass
class RescoreCounts:
    read: int = 0
    scored: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def dead_lettered(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def events_per_s(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dead_letters.items()))
        return (
            f"rescored {counted(self.read, 'application')}: {self.scored} scored, "
            f"{counted(self.dead_lettered, 'dead letter')}{f' ({reasons})' if reasons else ''} "
            f"in {self.seconds:.1f} s ({self.events_per_s:,.0f}/s)"
        )


def rescore(
    source: Source,
    pipeline: ScoringPipeline,
    sink: Sink,
    *,
    progress: Progress = lambda _step: None,
) -> RescoreCounts:
    """Every record of the source through the pipeline into the sink; one output per input."""
    counts = RescoreCounts()
    started = time.perf_counter()
    try:
        for batch, advanced in source.batches():
            outcome = pipeline(batch) if batch else None
            if outcome is not None:
                for record in outcome.records:
                    sink.write(record)
                counts.read += len(batch)
                counts.scored += len(outcome.scored)
                counts.dead_letters.update(outcome.dead_letter_reasons)
            progress(advanced)
    finally:
        sink.close()
    counts.seconds = time.perf_counter() - started
    if counts.read != counts.scored + counts.dead_lettered:  # the pipeline's own promise
        raise RescoreError(f"{counts.read} read but {counts.scored} + {counts.dead_lettered} out")
    return counts
