r"""A CRM reading loan-scorer's output: the latest decision per application, and which applications
will never be scored.

    python examples/crm_consumer.py --bootstrap-servers localhost:9092 --group-id crm \
        --scores-topic loan-scores --dead-letter-topic loan-applications.dlq --idle-exit-s 10

What a consumer of the scores must do, each in one place below:

- **read_committed**: the scorer writes each batch in a Kafka transaction; a read_uncommitted
  reader would see scores of batches that were later aborted and scored again.
- **a consumer group**, committing offsets only after the records are applied: a restart resumes
  where it stopped and may see a few records again (at-least-once), which the next point absorbs.
- **deduplicate on `source_event_id`**: the same application event can be scored more than once
  (the scorer in at-least-once mode, an upstream producer re-sending an event, a replay); every
  score of one event carries that event's `event_id` as `source_event_id`.
- **the latest decision wins per application**: an application re-submitted (a new `event_id`, the
  same `application_id`) is scored again; its newest `scored_at` is the decision to act on.
- **unknown reason codes are fine**: new codes appear in minor versions (schemas/README.md); show
  the `description` of a code the CRM has no text of its own for, never reject the score.
- **join the dead letters**: an application whose event was dead-lettered (key = its
  `application_id`, the reason in the `__loan_scorer.errors.reason` header) and never scored will
  not be scored until the upstream system sends a corrected event; the CRM should say so.

The view lives in memory and is printed as JSON when the consumer stops; a real CRM writes it to
its database, keeps the `source_event_id`s it has applied there, and commits offsets after that
write. Only `confluent-kafka` and the standard library are needed.

With `--schema-registry-url URL` (when the scorer writes through a schema registry) each score in
the registry's wire format (a zero byte, the schema id, the JSON) is decoded by confluent-kafka's
`JSONDeserializer`: it reads the schema id in the record, fetches that schema from the registry
(once per id) and validates the score against it. The summary then lists the schema ids the scores
were written with. A topic switched to the registry still holds the plain JSON scores written
before, so plain JSON is read as it always was; the first byte tells the two apart (JSON never
starts with a zero byte).

A score that cannot be read (not JSON, not a score, a schema id the registry does not hold, or
framed while no `--schema-registry-url` was given) is skipped with a line on stderr saying which
record and why, and counted as `unreadable` in the summary: one bad record must not stop the CRM.
A registry that cannot be reached is different: it says nothing about the record, so the consumer
stops (exit code 1) without committing it, and a restart reads it again.

**Traces**: a score or dead letter whose input carried a W3C `traceparent` carries the scorer's
child of it (same trace id). The CRM continues that trace: each decision and dead letter in the
view keeps its `trace_id`, and the line on stderr names the span the CRM's own work would be
(a child of the scorer's). A CRM with OpenTelemetry would `extract` the headers instead and
start its span with that context; a malformed or missing header just means no trace.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, Message

REASON_HEADER = "__loan_scorer.errors.reason"
MESSAGE_HEADER = "__connect.errors.exception.message"
FAILED_AT_HEADER = "__loan_scorer.errors.timestamp"
# The schema registry's wire format: this byte, the schema id in 4 big-endian bytes, the JSON.
MAGIC_BYTE = b"\x00"
FRAME_BYTES = 5
# W3C Trace Context, version 00: version-trace id-parent span id-flags, lowercase hex.
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

# The CRM's own wording for the codes it knows; any other code is shown with its description.
CRM_TEXTS = {
    "KO03_INCOME_MISSING": "Ask the applicant for proof of income.",
    "KO02_COMMITMENTS_EXCEED_INCOME": "Review the applicant's budget with them.",
}


@dataclass(frozen=True)
class Decision:
    application_id: str
    source_event_id: str
    decision: str
    risk_grade: str
    probability_of_default: float
    reasons: list[str]
    model_version: str
    policy_version: str
    scored_at: str
    trace_id: str | None = None  # the trace the upstream started, when it sent a traceparent


@dataclass(frozen=True)
class DeadLetter:
    application_id: str
    reason: str
    message: str
    failed_at: str
    trace_id: str | None = None


class UnreadableScoreError(ValueError):
    """A record on the scores topic that is not a score this CRM can read; it is skipped with a
    line saying why, never guessed at."""


class RegistryUnavailableError(RuntimeError):
    """The registry could not say what a schema id is: no verdict on the record, so stop."""


@dataclass
class CrmView:
    decisions: dict[str, Decision] = field(default_factory=dict)
    dead_letters: dict[str, DeadLetter] = field(default_factory=dict)
    applied_source_events: set[str] = field(default_factory=set)
    duplicates_ignored: int = 0
    unreadable: int = 0
    schema_ids: set[int] = field(default_factory=set)

    def apply_score(self, value: bytes) -> Decision | None:
        """Take one LoanScored in plain JSON; None when it repeats an event already applied."""
        return self.apply_score_event(plain_score(value))

    def apply_score_event(self, event: Any, trace_id: str | None = None) -> Decision | None:
        """Take one decoded LoanScored; None when it repeats an event already applied."""
        decision = replace(decision_of(event), trace_id=trace_id)
        if decision.source_event_id in self.applied_source_events:
            self.duplicates_ignored += 1
            return None
        self.applied_source_events.add(decision.source_event_id)
        current = self.decisions.get(decision.application_id)
        if current is None or _instant(decision.scored_at) >= _instant(current.scored_at):
            self.decisions[decision.application_id] = decision
        return decision

    def apply_dead_letter(self, key: bytes | None, headers: dict[str, str]) -> DeadLetter:
        dead = DeadLetter(
            application_id=key.decode(errors="replace") if key else "(no key)",
            reason=headers.get(REASON_HEADER, "(no reason header)"),
            message=headers.get(MESSAGE_HEADER, ""),
            failed_at=headers.get(FAILED_AT_HEADER, ""),
            trace_id=trace_of(headers.get("traceparent")),
        )
        self.dead_letters[dead.application_id] = dead
        return dead

    def never_scored(self) -> dict[str, DeadLetter]:
        """Applications with a dead-lettered event and no score: nothing more will come until
        the upstream system sends a corrected event."""
        return {app: dead for app, dead in self.dead_letters.items() if app not in self.decisions}

    def summary(self) -> dict[str, Any]:
        return {
            "decisions": {app: asdict(d) for app, d in sorted(self.decisions.items())},
            "never_scored": {app: asdict(d) for app, d in sorted(self.never_scored().items())},
            "duplicates_ignored": self.duplicates_ignored,
            "unreadable": self.unreadable,
            "schema_ids": sorted(self.schema_ids),
        }


def decision_of(event: Any) -> Decision:
    """The fields the CRM acts on; `UnreadableScoreError` when one is missing or malformed."""
    try:
        return Decision(
            application_id=str(event["application_id"]),
            source_event_id=str(event["source_event_id"]),
            decision=str(event["decision"]),
            risk_grade=str(event["risk_grade"]),
            probability_of_default=float(event["probability_of_default"]),
            reasons=[reason_text(reason) for reason in event.get("reasons", [])],
            model_version=str(event["model_version"]),
            policy_version=str(event["policy_version"]),
            scored_at=_valid_instant(str(event["scored_at"])),
        )
    except KeyError as missing:
        raise UnreadableScoreError(f"not a LoanScored: no {missing.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError):
        raise UnreadableScoreError("not a LoanScored: a field has the wrong type") from None


def trace_of(traceparent: str | None) -> str | None:
    """The trace id of a valid `traceparent` (the scorer's span is its parent id); None for a
    missing or malformed one, which is no reason to refuse the record."""
    match = TRACEPARENT.fullmatch(traceparent.strip()) if traceparent else None
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return match[1]


def continued(traceparent: str) -> str:
    """The `traceparent` of the CRM's own span: the same trace and flags, a new span id (what
    an OpenTelemetry SDK would draw for a span started with the extracted context)."""
    _, trace_id, _, flags = traceparent.strip().split("-")
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def reason_text(reason: dict[str, Any]) -> str:
    """`CODE: text`, with the CRM's own text for codes it knows and the score's description for
    any other (new codes are added in minor versions; they are not an error)."""
    code = str(reason.get("code", "?"))
    return f"{code}: {CRM_TEXTS.get(code, str(reason.get('description', '')))}"


def _valid_instant(timestamp: str) -> str:
    _instant(timestamp)  # a ValueError if it is no timestamp: the view compares them
    return timestamp


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _headers(message: Message) -> dict[str, str]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
        for name, value in pairs
    }


def plain_score(value: bytes) -> Any:
    """A score in plain JSON (what every topic held before it was switched to a registry)."""
    try:
        return json.loads(value)
    except ValueError:  # not UTF-8 or not JSON
        raise UnreadableScoreError("neither JSON nor the schema registry's wire format") from None


def schema_id_of(value: bytes) -> int | None:
    """The schema id of a value in the registry's wire format; None for plain JSON."""
    if value[:1] != MAGIC_BYTE:
        return None
    if len(value) < FRAME_BYTES:
        raise UnreadableScoreError("the registry's magic byte without a schema id")
    return int.from_bytes(value[1:FRAME_BYTES], "big")


def score_reader(url: str | None, topic: str) -> Callable[[bytes], tuple[Any, int | None]]:
    """A record value -> (the score, its schema id or None), framed and plain alike."""
    registry = _registry_decoder(url, topic)

    def read(value: bytes) -> tuple[Any, int | None]:
        schema_id = schema_id_of(value)
        if schema_id is None:
            return plain_score(value), None
        if registry is None:
            raise UnreadableScoreError(
                f"in the schema registry's wire format (schema id {schema_id}): "
                "run with --schema-registry-url"
            )
        return registry(value, schema_id), schema_id

    return read


def _registry_decoder(url: str | None, topic: str) -> Callable[[bytes, int], Any] | None:
    """The registry's wire format -> the score, by the schema its id names (fetched, cached)."""
    if url is None:
        return None
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

    deserializer = JSONDeserializer(
        None, schema_registry_client=SchemaRegistryClient({"url": url, "timeout": 10})
    )
    context = SerializationContext(topic, MessageField.VALUE)

    def decode(value: bytes, schema_id: int) -> Any:
        try:
            return deserializer(value, context)
        except SchemaRegistryError as error:
            if error.http_status_code == 404:
                raise UnreadableScoreError(
                    f"schema id {schema_id} is not in the schema registry"
                ) from None
            raise RegistryUnavailableError(f"the schema registry answered: {error}") from None
        except SerializationError as error:  # the JSON or the schema's validation failed
            raise UnreadableScoreError(
                f"refused by schema id {schema_id}: {str(error)[:200]}"
            ) from None
        except ValueError:
            raise UnreadableScoreError(f"no JSON after the frame (schema id {schema_id})") from None
        except Exception as error:  # the HTTP client's own: connection refused, timeout
            raise RegistryUnavailableError(
                f"the schema registry could not be reached: {type(error).__name__}"
            ) from None

    return decode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--group-id", default="crm")
    parser.add_argument("--scores-topic", default="loan-scores")
    parser.add_argument("--dead-letter-topic", default="loan-applications.dlq")
    parser.add_argument(
        "--idle-exit-s", type=float, default=None, help="stop after this long without a record"
    )
    parser.add_argument(
        "--schema-registry-url", default=None, help="scores are in the registry's wire format"
    )
    args = parser.parse_args(argv)
    read_score = score_reader(args.schema_registry_url, args.scores_topic)

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap_servers,
            "group.id": args.group_id,
            "isolation.level": "read_committed",  # never a score of an aborted batch
            "auto.offset.reset": "earliest",  # a new CRM group starts from the oldest score
            "enable.auto.commit": False,  # offsets are committed after the view is updated
        }
    )
    consumer.subscribe([args.scores_topic, args.dead_letter_topic])
    view = CrmView()
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_record = time.monotonic()
    exit_code = 0
    try:
        while not stopping:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                if (
                    args.idle_exit_s is not None
                    and time.monotonic() - last_record > args.idle_exit_s
                ):
                    break
                continue
            last_record = time.monotonic()
            if message.topic() == args.dead_letter_topic:
                headers = _headers(message)
                dead = view.apply_dead_letter(_as_bytes(message.key()), headers)
                print(
                    f"dead letter {dead.application_id}: {dead.reason}{_trace_note(headers)}",
                    file=sys.stderr,
                )
            else:
                try:
                    _apply_score(view, read_score, message)
                except RegistryUnavailableError as error:
                    print(f"stopping, {_where(message)} not read: {error}", file=sys.stderr)
                    exit_code = 1
                    break  # not committed: a restart reads this record again
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()
    print(json.dumps(view.summary(), indent=2))
    return exit_code


def _apply_score(
    view: CrmView, read_score: Callable[[bytes], tuple[Any, int | None]], message: Message
) -> None:
    value = _as_bytes(message.value())
    if value is None:
        return
    headers = _headers(message)
    try:
        event, schema_id = read_score(value)
        decision = view.apply_score_event(event, trace_of(headers.get("traceparent")))
    except UnreadableScoreError as error:
        view.unreadable += 1
        print(f"unreadable score {_where(message)}: {error}", file=sys.stderr)
        return
    if schema_id is not None:
        view.schema_ids.add(schema_id)
    if decision is not None:
        print(
            f"{decision.application_id}: {decision.decision}{_trace_note(headers)}",
            file=sys.stderr,
        )


def _trace_note(headers: dict[str, str]) -> str:
    """Where this record sits in its trace, for the log line (empty without a trace)."""
    traceparent = headers.get("traceparent")
    if traceparent is None or trace_of(traceparent) is None:
        return ""
    return f" (trace continued as {continued(traceparent)})"


def _where(message: Message) -> str:
    return f"{message.topic()}/{message.partition()}@{message.offset()}"


def _as_bytes(data: str | bytes | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


if __name__ == "__main__":
    sys.exit(main())
