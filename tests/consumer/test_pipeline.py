"""The batch pipeline on plain objects: every input becomes exactly one output, in order."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import structlog

from consumer.config.settings import Settings
from consumer.pipeline.dedup import changelog_entries
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import BatchOutcome
from consumer.runtime.assets import load_assets
from consumer.state.hashing import UNKNOWN_CONTENT_HASH
from consumer.state.partitions import PartitionStates
from consumer.state.scored_id import UNKNOWN_INPUT_OFFSET, ScoredId
from consumer.telemetry.logs import configure_logging
from schemas.dead_letter import HEADER_FIRST_OFFSET, parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from schemas.errors import DeadLetterReason, UnknownSchemaError
from schemas.examples import example_application
from schemas.wire import FramedApplicationDecoder, WriterSchema, frame
from scoring.scorer import ScoreError
from tests.consumer.state.changelog_fake import FakeChangelog

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class FakeMessage:
    raw: bytes | None
    k: bytes | None = b"app-000001"
    off: int = 0
    hdrs: list[tuple[str, str | bytes | None]] | None = field(default=None)

    def key(self) -> bytes | None:
        return self.k

    def value(self) -> bytes | None:
        return self.raw

    def topic(self) -> str:
        return "loan-applications"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return self.off

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)

    def headers(self) -> list[tuple[str, str | bytes | None]] | None:
        return self.hdrs


@pytest.fixture(scope="module")
def pipeline(model_dir: Path) -> ScoringPipeline:
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    return ScoringPipeline(
        assets.model, assets.policy, output_topic="out", dlq_topic="dlq", clock=lambda: NOW
    )


def valid(app_id: str) -> bytes:
    return orjson.dumps(example_application(application_id=app_id))


def test_each_input_yields_one_output_in_input_order(pipeline: ScoringPipeline) -> None:
    batch = [
        FakeMessage(valid("a-1"), b"a-1", 0),
        FakeMessage(b"{not json", b"a-2", 1, [("trace", b"t-1")]),
        FakeMessage(valid("a-3"), b"a-3", 2),
        FakeMessage(orjson.dumps(example_application(schema_version="2.0")), b"a-4", 3),
        FakeMessage(None, b"a-5", 4),
    ]
    outcome = pipeline(batch)

    assert [r.topic for r in outcome.records] == ["out", "dlq", "out", "dlq", "dlq"]
    assert [r.key for r in outcome.records] == [b"a-1", b"a-2", b"a-3", b"a-4", b"a-5"]
    assert outcome.dead_letter_reasons == ["invalid_json", "unsupported_version", "invalid_json"]
    assert len(outcome.scored) == 2
    assert outcome.changelog == []  # no deduplication here


def test_a_score_is_the_audit_record_of_the_decision(pipeline: ScoringPipeline) -> None:
    outcome = pipeline([FakeMessage(valid("a-1"))])
    scored = decode_loan_scored(outcome.records[0].value)
    assert scored.application_id == "a-1"
    assert str(scored.source_event_id) == example_application()["event_id"]
    assert scored.scored_at == NOW
    assert 0.0 <= scored.probability_of_default <= 1.0
    assert scored.model_version == pipeline._model.model_version
    assert scored.policy_version == pipeline._policy.policy_version
    assert outcome.scored[0].decision == scored.decision.value


def test_a_score_carries_its_input_records_kafka_timestamp_for_the_processing_latency(
    pipeline: ScoringPipeline,
) -> None:
    """FakeMessage's timestamp is 1_700_000_000_000 ms; occurred_at is the example's own."""
    fact = pipeline([FakeMessage(valid("a-1"))]).scored[0]
    assert fact.record_timestamp_epoch_s == 1_700_000_000.0
    assert fact.occurred_at_epoch_s != fact.record_timestamp_epoch_s


def test_a_dead_letter_keeps_the_original_bytes_headers_and_timestamp(
    pipeline: ScoringPipeline,
) -> None:
    raw = b'{"truncated": '
    record = pipeline([FakeMessage(raw, b"k", 41, [("trace", b"t-1")])]).records[0]
    assert (record.topic, record.key, record.value) == ("dlq", b"k", raw)
    assert record.timestamp_ms == 1_700_000_000_000
    assert record.headers is not None
    assert record.headers[0] == ("trace", b"t-1")
    context = parse_dead_letter_headers(record.headers)
    assert (context.topic, context.partition, context.offset) == ("loan-applications", 2, 41)
    assert context.reason is DeadLetterReason.INVALID_JSON
    assert context.failed_at == NOW


def test_a_record_the_model_cannot_score_is_dead_lettered_and_the_rest_scored(
    pipeline: ScoringPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scoring.scorer as module

    real = module.score_batch

    def failing_second(apps, model, policy, features=None):  # type: ignore[no-untyped-def]
        outcomes = real(apps, model, policy, features)
        if len(outcomes) > 1:
            outcomes[1] = ScoreError(apps[1].application_id, "InvalidProbability", "PD nan")
        return outcomes

    monkeypatch.setattr(module, "score_batch", failing_second)
    outcome = pipeline([FakeMessage(valid(f"a-{i}"), f"a-{i}".encode(), i) for i in range(3)])
    assert [r.topic for r in outcome.records] == ["out", "dlq", "out"]
    assert outcome.dead_letter_reasons == ["scoring_error"]


def test_a_batch_wide_scoring_failure_is_isolated_to_the_culprit(
    pipeline: ScoringPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scoring.scorer as module

    real = module.score_batch

    def explodes_on_b(apps, model, policy, features=None):  # type: ignore[no-untyped-def]
        if any(app.application_id == "b" for app in apps):
            raise RuntimeError("boom")
        return real(apps, model, policy, features)

    monkeypatch.setattr(module, "score_batch", explodes_on_b)
    outcome = pipeline([FakeMessage(valid(i), i.encode(), n) for n, i in enumerate("abc")])
    assert [r.topic for r in outcome.records] == ["out", "dlq", "out"]
    assert outcome.dead_letter_reasons == ["scoring_error"]


def test_a_scoring_failure_quoting_the_input_reaches_neither_header_nor_log(
    pipeline: ScoringPipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 12: an exception's text may quote the applicant (pydantic's `input_value`, a
    library's message); the dead-letter header and the log lines carry its class name only."""
    import scoring.scorer as module

    def quoting(apps, model, policy, features=None):  # type: ignore[no-untyped-def]
        income = apps[0].finances.monthly_income
        raise ValueError(f"1 validation error: input_value={income} is bad")

    monkeypatch.setattr(module, "score_batch", quoting)
    raw = orjson.dumps(example_application(finances={"monthly_income": 98765.25}))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO")  # the service's own JSON logging, writing to captured stderr
        outcome = pipeline([FakeMessage(raw, b"app-1", 0)])
        logged = capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()

    [record] = outcome.records
    assert record.topic == "dlq"
    context = parse_dead_letter_headers(record.headers)
    assert context.reason is DeadLetterReason.SCORING_ERROR
    assert context.message == "the model could not score this application (ValueError)"
    assert "98765" not in str(record.headers)
    assert "builtins.ValueError: (message withheld)" in logged  # the failure was logged ...
    assert "application could not be scored; dead-lettered" in logged
    assert "98765" not in logged  # ... without the value


def test_a_dead_letter_is_logged_with_its_id_and_reason_but_no_applicant_data(
    pipeline: ScoringPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    raw = orjson.dumps(example_application(finances={"monthly_income": "4321.5"}))
    with caplog.at_level("INFO", logger="consumer.pipeline.scoring"):
        pipeline([FakeMessage(raw, b"app-77", 9)])
    [record] = [r for r in caplog.records if r.getMessage() == "event dead-lettered"]
    assert record.application_id == "app-77"  # type: ignore[attr-defined]
    assert record.reason == "schema_violation"  # type: ignore[attr-defined]
    assert "finances.monthly_income" in record.error  # type: ignore[attr-defined]
    assert "4321" not in str(record.__dict__)


class Deduplicating:
    """The pipeline with a real state store over an in-memory changelog; `committed` ends a
    batch as a committed transaction does (its staged ids reach the store)."""

    def __init__(self, model_dir: Path, root: Path) -> None:
        self.changelog = FakeChangelog()
        self.states = PartitionStates(
            root,
            changelog_topic="in.scored-ids",
            window_s=3600,
            source=self.changelog,
            clock=NOW.timestamp,
        )
        assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
        self.pipeline = ScoringPipeline(
            assets.model,
            assets.policy,
            output_topic="out",
            dlq_topic="dlq",
            clock=lambda: NOW,
            seen=self.states,
            changelog_topic="in.scored-ids",
        )

    def committed(self, messages: list[FakeMessage]) -> BatchOutcome:
        outcome = self.pipeline(messages)
        for r in outcome.changelog:
            assert r.partition is not None
            self.changelog.append(r.partition, changelog_entries(r.key, r.value, NOW.timestamp()))
        self.states.commit()
        return outcome


@pytest.fixture
def dedup(model_dir: Path, tmp_path: Path) -> Iterator[Deduplicating]:
    made = Deduplicating(model_dir, tmp_path)
    yield made
    made.states.close()


def test_an_upstream_duplicate_gets_no_second_score(dedup: Deduplicating) -> None:
    event = orjson.dumps(example_application())
    second = example_application(
        application_id="app-2", event_id="5a0c6f1e-2f4b-4d39-8f53-0c7e4b2f9a11"
    )
    other = orjson.dumps(second)
    outcome = dedup.committed(
        [FakeMessage(event, off=0), FakeMessage(other, off=1), FakeMessage(event, off=2)]
    )
    scores = outcome.records
    changelog = outcome.changelog
    assert outcome.skipped == (2,)
    assert [decode_loan_scored(r.value).application_id for r in scores] == ["app-000001", "app-2"]
    assert outcome.duplicates == 1
    # The batch's scored ids go in one record to the changelog partition numbered like their
    # input partition, keyed by that partition and the batch's first offset there, each with its
    # content hash and input offset.
    assert [(r.key, r.partition) for r in changelog] == [(b"2@0", 2)]
    entries = changelog_entries(changelog[0].key, changelog[0].value, 0)
    assert [(event_id, s.input_offset) for event_id, s in entries] == [
        (str(example_application()["event_id"]), 0),
        (second["event_id"], 1),
    ]
    assert all(s.content_known for _, s in entries)
    # And the next batch still knows them.
    assert dedup.committed([FakeMessage(event, off=3)]).duplicates == 1


def test_ids_of_an_aborted_batch_are_not_remembered(dedup: Deduplicating) -> None:
    event = orjson.dumps(example_application())
    assert dedup.pipeline([FakeMessage(event, off=0)]).duplicates == 0
    dedup.states.discard()  # the transaction aborted: the batch is read again
    again = dedup.committed([FakeMessage(event, off=0)])
    assert (len(again.records), again.duplicates) == (1, 0)


def test_a_batch_of_duplicates_logs_one_line_naming_the_first_ids_and_their_offsets(
    dedup: Deduplicating, caplog: pytest.LogCaptureFixture
) -> None:
    events = [
        orjson.dumps(example_application(event_id=f"5a0c6f1e-2f4b-4d39-8f53-{i:012d}"))
        for i in range(25)
    ]
    dedup.committed([FakeMessage(e, off=i) for i, e in enumerate(events)])

    with caplog.at_level("INFO", logger="consumer.pipeline.scoring"):
        outcome = dedup.pipeline([FakeMessage(e, off=100 + i) for i, e in enumerate(events)])

    assert outcome.duplicates == 25
    [line] = [r for r in caplog.records if "duplicate" in r.getMessage()]
    fields = vars(line)
    assert fields["count"] == 25
    assert fields["event_ids"] == [orjson.loads(e)["event_id"] for e in events[:20]]
    assert fields["first_offsets"] == list(range(20))


def test_an_id_in_the_changelog_from_before_a_restart_is_a_duplicate(
    dedup: Deduplicating,
) -> None:
    application = example_application()
    event_id = str(application["event_id"])
    dedup.changelog.append(
        2, [(event_id, ScoredId(NOW.timestamp() - 60, UNKNOWN_CONTENT_HASH, UNKNOWN_INPUT_OFFSET))]
    )
    outcome = dedup.committed([FakeMessage(orjson.dumps(application), off=40)])
    assert (outcome.records, outcome.duplicates) == ([], 1)


def test_the_same_id_with_other_content_is_dead_lettered_naming_the_first_offset(
    dedup: Deduplicating,
) -> None:
    first = example_application()
    dedup.committed([FakeMessage(orjson.dumps(first), off=7)])
    changed = example_application()
    changed["finances"]["monthly_income"] = 40.0  # same event_id, other content
    outcome = dedup.committed([FakeMessage(orjson.dumps(changed), off=8)])

    assert [r.topic for r in outcome.records] == ["dlq"]
    assert outcome.dead_letter_reasons == ["conflicting_duplicate"]
    assert outcome.duplicates == 0
    headers = dict(outcome.records[0].headers or [])
    assert headers[HEADER_FIRST_OFFSET] == b"7"
    context = parse_dead_letter_headers(outcome.records[0].headers or [])
    assert context.reason is DeadLetterReason.CONFLICTING_DUPLICATE
    assert "40" not in context.message  # never an applicant's value
    # The first score stands: the same content as the first is still a plain duplicate.
    assert dedup.committed([FakeMessage(orjson.dumps(first), off=9)]).duplicates == 1


def test_a_conflict_within_one_batch_is_caught_too(dedup: Deduplicating) -> None:
    first = example_application()
    changed = example_application()
    changed["finances"]["monthly_income"] = 40.0
    outcome = dedup.committed(
        [FakeMessage(orjson.dumps(first), off=0), FakeMessage(orjson.dumps(changed), off=1)]
    )
    assert [r.topic for r in outcome.records] == ["out", "dlq"]


def test_a_dead_lettered_event_is_not_remembered(dedup: Deduplicating) -> None:
    broken = example_application()
    broken["loan"]["amount"] = "1000"  # a string: schema violation
    outcome = dedup.committed([FakeMessage(orjson.dumps(broken), off=0)])
    assert [r.topic for r in outcome.records] == ["dlq"]
    assert outcome.duplicates == 0
    assert outcome.changelog == []


def test_with_a_registry_framed_and_plain_inputs_are_scored_and_unknown_ids_dead_lettered(
    model_dir: Path,
) -> None:
    def lookup(schema_id: int) -> WriterSchema:
        if schema_id == 5:
            return WriterSchema(schema_id=5, version=3)
        raise UnknownSchemaError(f"schema id {schema_id} is not in the schema registry")

    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    registry_pipeline = ScoringPipeline(
        assets.model,
        assets.policy,
        output_topic="out",
        dlq_topic="dlq",
        clock=lambda: NOW,
        framed=FramedApplicationDecoder(lookup),
        frame_score=lambda plain_json: frame(9, plain_json),
    )
    unknown = frame(6, valid("a-3"))
    outcome = registry_pipeline(
        [
            FakeMessage(frame(5, valid("a-1")), b"a-1", 0),
            FakeMessage(valid("a-2"), b"a-2", 1),
            FakeMessage(unknown, b"a-3", 2),
        ]
    )

    assert [r.topic for r in outcome.records] == ["out", "out", "dlq"]
    framed_score, plain_score, dead = outcome.records
    assert framed_score.headers == [
        ("loan_scorer.input.schema_id", b"5"),
        ("loan_scorer.input.schema_version", b"3"),
    ]
    assert plain_score.headers is None
    for record, app_id in ((framed_score, "a-1"), (plain_score, "a-2")):
        assert record.value is not None
        assert record.value[:5] == b"\x00\x00\x00\x00\x09"
        assert decode_loan_scored(record.value[5:]).application_id == app_id
    assert outcome.dead_letter_reasons == ["unknown_schema"]
    assert dead.value == unknown
    assert parse_dead_letter_headers(dead.headers).reason is DeadLetterReason.UNKNOWN_SCHEMA


def test_drift_counts_the_scored_rows_only_with_their_own_features(model_dir: Path) -> None:
    """The features are built once per batch and shared with drift: a dead letter between two
    scored events must not shift whose features are counted."""
    import numpy as np

    from consumer.telemetry.drift import DriftMonitor
    from schemas.decode import decode_application
    from scoring.features import build_features

    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    drift = DriftMonitor.for_model(assets.model)
    pipeline = ScoringPipeline(
        assets.model, assets.policy, output_topic="out", dlq_topic="dlq", drift=drift
    )
    old_app = example_application(application_id="old")
    old_app["applicant"] = {**old_app["applicant"], "age": 80}
    raws = [
        valid("a"),
        b"not json",
        orjson.dumps(
            {
                **example_application(application_id="y"),
                "applicant": {**example_application()["applicant"], "age": 19},
            }
        ),
        orjson.dumps(old_app),
    ]
    outcome = pipeline([FakeMessage(raw, b"k", i) for i, raw in enumerate(raws)])
    assert outcome.dead_letter_reasons == ["invalid_json"]
    scored = [decode_application(raw) for i, raw in enumerate(raws) if i != 1]
    pds = np.array([fact.probability_of_default for fact in outcome.scored])
    expected = drift.bin(build_features(scored), pds)
    assert outcome.drift is not None
    assert outcome.drift.observations == 3
    np.testing.assert_array_equal(outcome.drift.counts, expected.counts)


def test_drift_leaves_out_an_application_the_model_could_not_score(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    import scoring.scorer as module
    from consumer.telemetry.drift import DriftMonitor
    from schemas.decode import decode_application
    from scoring.features import build_features

    real = module.score_batch

    def failing_first(apps, model, policy, features=None):  # type: ignore[no-untyped-def]
        outcomes = real(apps, model, policy, features)
        outcomes[0] = ScoreError(apps[0].application_id, "InvalidProbability", "PD nan")
        return outcomes

    monkeypatch.setattr(module, "score_batch", failing_first)
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    drift = DriftMonitor.for_model(assets.model)
    pipeline = ScoringPipeline(
        assets.model, assets.policy, output_topic="out", dlq_topic="dlq", drift=drift
    )
    young = example_application(application_id="young")
    young["applicant"] = {**young["applicant"], "age": 19}
    raws = [orjson.dumps(young), valid("b"), valid("c")]
    outcome = pipeline([FakeMessage(raw, b"k", i) for i, raw in enumerate(raws)])
    assert outcome.dead_letter_reasons == ["scoring_error"]
    pds = np.array([fact.probability_of_default for fact in outcome.scored])
    expected = drift.bin(build_features([decode_application(raw) for raw in raws[1:]]), pds)
    assert outcome.drift is not None
    np.testing.assert_array_equal(outcome.drift.counts, expected.counts)
