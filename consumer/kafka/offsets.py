"""Where a batch starts and ends in each partition: what to rewind to and what to commit."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Message, TopicPartition

from consumer.records import InboundMessage

Position = tuple[str, int]  # (topic, partition)
RecordPosition = tuple[str, int, int]  # (topic, partition, offset)


def position_of(msg: InboundMessage | Message) -> RecordPosition:
    return (str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0))


def offset_ranges(messages: Sequence[InboundMessage | Message]) -> dict[Position, tuple[int, int]]:
    """The first and last offset of a batch in each (topic, partition) it touches."""
    ranges: dict[Position, tuple[int, int]] = {}
    for msg in messages:
        topic, partition, offset = position_of(msg)
        first, last = ranges.get((topic, partition), (offset, offset))
        ranges[(topic, partition)] = (min(first, offset), max(last, offset))
    return ranges


def batch_start_offsets(messages: Sequence[InboundMessage | Message]) -> list[TopicPartition]:
    """Where to rewind to so that a batch is read again: its first offset in each partition."""
    return [TopicPartition(t, p, first) for (t, p), (first, _) in offset_ranges(messages).items()]


def batch_next_offsets(messages: Sequence[InboundMessage | Message]) -> list[TopicPartition]:
    """The offsets to commit for a batch: one past its last offset in each partition."""
    return [TopicPartition(t, p, last + 1) for (t, p), (_, last) in offset_ranges(messages).items()]
