"""The two reference consumers the scorer is measured against, each run as its own process with
the scorer's own settings (LOAN_SCORER_* variables), client configurations and delivery mode
(exactly-once): `python -m benchmarks.variants passthrough|naive`. SIGTERM stops them after the
transaction in flight.

- passthrough: consume a batch, produce the same bytes in one transaction with the batch's
  offsets (`send_offsets_to_transaction`), commit. No decoding, no scoring: what Python and
  librdkafka move through Kafka on this machine, the ceiling for any scorer.
- naive: what a first tutorial writes: poll one event, score it alone (decode, a one-row feature
  matrix, one model call, its reasons, encode: the stream's own pipeline on a batch of one, so
  the model and the output are the real ones), one transaction per event.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from confluent_kafka import Consumer, Message, Producer

from consumer.config.settings import Settings
from consumer.kafka.batching import consume_batch
from consumer.kafka.config import consumer_config, producer_config
from consumer.kafka.offsets import batch_next_offsets
from consumer.kafka.produce import produce_record
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import OutboundRecord

_stop = threading.Event()


def _on_signal(_signum: int, _frame: FrameType | None) -> None:
    _stop.set()


def _clients(settings: Settings) -> tuple[Consumer, Producer]:
    producer = Producer(producer_config(settings))
    producer.init_transactions(settings.kafka_timeout_s)
    consumer = Consumer(consumer_config(settings))
    consumer.subscribe([settings.input_topic])
    return consumer, producer


def _commit(
    producer: Producer,
    consumer: Consumer,
    messages: list[Message],
    records: list[OutboundRecord],
    timeout_s: float,
) -> None:
    """One transaction: the records, and the offsets past the messages they answer."""
    producer.begin_transaction()
    for record in records:
        produce_record(producer, record)
    producer.send_offsets_to_transaction(
        batch_next_offsets(messages), consumer.consumer_group_metadata(), timeout_s
    )
    producer.commit_transaction(timeout_s)


def passthrough(settings: Settings) -> None:
    consumer, producer = _clients(settings)
    try:
        while not _stop.is_set():
            messages = [
                m
                for m in consume_batch(
                    consumer, settings.batch_max_events, settings.batch_linger_ms / 1000
                )
                if m.error() is None
            ]
            if messages:
                records = [
                    OutboundRecord(settings.output_topic, m.key(), m.value()) for m in messages
                ]
                _commit(producer, consumer, messages, records, settings.kafka_timeout_s)
    finally:
        consumer.close()


def naive(settings: Settings) -> None:
    from consumer.runtime.assets import load_assets

    assets = load_assets(settings)
    pipeline = ScoringPipeline(
        assets.model,
        assets.policy,
        output_topic=settings.output_topic,
        dlq_topic=settings.dlq_topic,
    )
    consumer, producer = _clients(settings)
    try:
        while not _stop.is_set():
            message = consumer.poll(0.1)
            if message is None or message.error() is not None:
                continue
            records = pipeline([message]).records
            _commit(producer, consumer, [message], records, settings.kafka_timeout_s)
    finally:
        consumer.close()


VARIANTS = {"passthrough": passthrough, "naive": naive}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in VARIANTS:
        print(f"usage: python -m benchmarks.variants {'|'.join(VARIANTS)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    VARIANTS[argv[0]](Settings())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
