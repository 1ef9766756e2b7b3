"""What the cluster says about a topic: whether it can be read, and how many partitions it has.

Every question lists ALL topics and picks the one wanted out of the answer: a metadata request
that names a missing topic makes a broker with `auto.create.topics.enable` create it, with the
default partition count. A check would create the very topic it was checking for, and the
changelog would take that default instead of its input's partition count. So the clients here are
asked through `MetadataClient`, which has no way to name a topic.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future
from typing import Any, Protocol

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin._acl import AclOperation
from confluent_kafka.admin._metadata import ClusterMetadata, TopicMetadata

from consumer.records import MonotonicClock

# Between two metadata requests while waiting for a topic to show up.
POLL_INTERVAL_S = 0.2


class MetadataClient(Protocol):
    """An AdminClient, a Consumer or a Producer, as far as listing every topic goes."""

    def list_topics(self, *, timeout: float) -> ClusterMetadata: ...


class DescribeClient(Protocol):
    """An AdminClient, as far as describing topics with the caller's own rights goes."""

    def describe_topics(self, topics: TopicCollection, **kwargs: Any) -> dict[str, Future[Any]]: ...


def topic_metadata(client: MetadataClient, topic: str, timeout_s: float) -> TopicMetadata | None:
    """The topic as the cluster describes it, or None if the cluster does not list it. Raises
    the client's `KafkaException` when the cluster does not answer within `timeout_s`."""
    found: TopicMetadata | None = client.list_topics(timeout=timeout_s).topics.get(topic)
    return found


def topic_problem(found: TopicMetadata | None, topic: str, role: str = "input") -> str | None:
    """Why `topic` cannot be consumed according to its metadata (`found`, None when not listed),
    or None if it can. `role` names the topic in the sentence ("input topic 'x' does not
    exist")."""
    if found is None:
        return f"{role} topic {topic!r} does not exist"
    if found.error is not None:
        return f"{role} topic {topic!r}: {found.error.name()}"
    if not found.partitions:
        return f"{role} topic {topic!r} has no partitions"
    return None


def partition_count(
    client: MetadataClient,
    topic: str,
    *,
    wait_s: float,
    timeout_s: float = 30.0,
    clock: MonotonicClock = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> int | None:
    """The topic's partition count, asking again for up to `wait_s` until the metadata shows it
    (a topic created a moment ago is not in every broker's metadata yet); None if it still does
    not exist, or has an error or no partitions, by then."""
    deadline = clock() + wait_s
    while True:
        found = topic_metadata(client, topic, timeout_s)
        if found is not None and topic_problem(found, topic) is None:
            return len(found.partitions)
        if clock() >= deadline:
            return None
        sleep(POLL_INTERVAL_S)


def may_write(authorized: Collection[AclOperation]) -> bool:
    """Whether the operations a topic's ACLs grant us (as `describe_topics` reports them) let us
    write to it."""
    return AclOperation.WRITE in authorized or AclOperation.ALL in authorized


def topics_refusing_writes(
    client: DescribeClient, topics: Iterable[str], timeout_s: float
) -> list[str]:
    """The topics among `topics` whose ACLs do not let us write. A refused write inside a
    transaction surfaces only as TOPIC_AUTHORIZATION_FAILED on the commit, naming no topic
    (librdkafka's AddPartitionsToTxn fails before any delivery report): the broker's answer to
    "what may I do here" names it. Named topics are described, never created. A topic that cannot
    be described (missing, not even DESCRIBE granted) is left to the metadata listing, which says
    so; no answer at all leaves the list short, not the caller failing."""
    names = sorted(set(topics))
    if not names:
        return []
    try:
        futures = client.describe_topics(
            TopicCollection(names), include_authorized_operations=True, request_timeout=timeout_s
        )
    except KafkaException:
        return []
    refused = []
    for name in names:
        with contextlib.suppress(KafkaException, TimeoutError):
            authorized = futures[name].result(timeout=timeout_s).authorized_operations
            if authorized is not None and not may_write(authorized):  # None: not reported
                refused.append(name)
    return refused
