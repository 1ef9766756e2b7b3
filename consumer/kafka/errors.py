"""Why the loop stops: a small tree of errors after which going on would lose or double data.

Every one of them means "exit 1 and let the orchestrator restart us": the committed offsets are the
truth, so a fresh process resumes exactly where the last committed batch ended. The service
catches the base class, logs its message (which says what and where) and exits without a
traceback.
"""

from __future__ import annotations

from confluent_kafka import KafkaError


class StopScoringError(RuntimeError):
    """The loop cannot go on safely; the process must exit non-zero."""


class FatalKafkaError(StopScoringError):
    """librdkafka reported a fatal error (e.g. fenced by a newer producer): the client is dead."""

    def __init__(self, error: KafkaError, operation: str | None = None) -> None:
        where = f" in {operation}" if operation else ""
        super().__init__(f"fatal Kafka error{where} {error.name()}: {error.str()}")
        self.error = error


class TransactionStateError(StopScoringError):
    """A transactional call failed in a way that leaves no transaction to abort, or an abort
    failed: the producer's state is unknown, and only a new producer can be trusted."""


class RewindFailedError(StopScoringError):
    """The consumer could not seek back to an aborted batch: reading on would commit offsets
    past records that were never written."""

    def __init__(self, topic: str, partition: int, offset: int, detail: str) -> None:
        super().__init__(f"could not rewind {topic}[{partition}] to offset {offset}: {detail}")


class UnwritableRecordError(StopScoringError):
    """Neither a record's output nor its truncated dead letter could be written."""

    def __init__(self, topic: str, partition: int, offset: int, detail: str) -> None:
        super().__init__(
            f"the record at {topic}[{partition}]@{offset} cannot be written, not even as a "
            f"truncated dead letter ({detail}); stopping before its offset is committed"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset


class ProducerWedgedError(Exception):
    """A transactional call did not return within its own timeout plus a grace period.

    librdkafka can block in `send_offsets_to_transaction` past its timeout while the group
    coordinator is away (librdkafka issues 5456 and 5511, open in 2.16). The call cannot be
    interrupted, so the producer is abandoned and a new one with the same transactional.id fences
    it (the coordinator aborts its transaction); the batch is read again.
    """

    def __init__(self, operation: str, waited_s: float) -> None:
        super().__init__(f"{operation} did not return within {waited_s:.0f} s")
        self.operation = operation


class BatchAborted(Exception):  # noqa: N818  # a control-flow signal, not a failure to report
    """The batch's transaction must be (or was) aborted; the batch will be read again."""

    def __init__(self, operation: str, error_name: str) -> None:
        super().__init__(f"{operation}: {error_name}")
        self.operation = operation
        self.error_name = error_name
