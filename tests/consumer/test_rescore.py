"""`loan-scorer rescore` without a broker: where results go, how sources are cut into batches,
that every input comes out once (a score or a dead letter), and the data set through the CLI."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from consumer.cli import app
from consumer.config.settings import Settings
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import InboundMessage, OutboundRecord
from consumer.runtime.assets import load_assets
from consumer.tools.rescore import (
    Destination,
    JsonLinesSink,
    RescoreError,
    dead_letter_line,
    rescore,
    resolve_destination,
)
from consumer.tools.rescore_sources import DatasetRecord, DatasetSource
from schemas.decode import decode_application, decode_loan_scored
from schemas.examples import example_application
from scoring.scorer import ScoreResult, score_batch
from training.dataset import load_credit_data


def test_a_topic_destination_puts_dead_letters_beside_it_unless_named() -> None:
    assert resolve_destination(
        to_topic="scores-v2", to_file=None, dead_letters=None, from_topic="apps"
    ) == Destination("topic", "scores-v2", "scores-v2.dlq")
    assert resolve_destination(
        to_topic="scores-v2", to_file=None, dead_letters="bad", from_topic=None
    ) == Destination("topic", "scores-v2", "bad")


def test_a_file_destination_puts_dead_letters_in_a_sibling_file() -> None:
    assert resolve_destination(
        to_topic=None, to_file=Path("out/book.jsonl"), dead_letters=None, from_topic="apps"
    ) == Destination("file", "out/book.jsonl", "out/book.dlq.jsonl")


@pytest.mark.parametrize(
    ("to_topic", "to_file", "dead_letters", "from_topic", "message"),
    [
        (None, None, None, "apps", "exactly one of"),
        ("s", Path("s.jsonl"), None, "apps", "exactly one of"),
        ("apps", None, None, "apps", "refusing to write into apps"),
        ("s", None, "apps", "apps", "refusing to write into apps"),
        ("s", None, "s", None, "different places"),
        (None, Path("s.jsonl"), "s.jsonl", None, "different places"),
    ],
)
def test_refused_destinations(
    to_topic: str | None,
    to_file: Path | None,
    dead_letters: str | None,
    from_topic: str | None,
    message: str,
) -> None:
    with pytest.raises(RescoreError, match=message):
        resolve_destination(
            to_topic=to_topic, to_file=to_file, dead_letters=dead_letters, from_topic=from_topic
        )


def test_the_data_set_source_cuts_batches_and_encodes_v1_events() -> None:
    applications = load_credit_data().applications[:5]
    source = DatasetSource(applications, batch_size=2)
    batches = list(source.batches())
    assert source.total == 5
    assert [advanced for _, advanced in batches] == [2, 2, 1]
    records = [record for batch, _ in batches for record in batch]
    assert all(isinstance(r, DatasetRecord) for r in records)
    assert [
        decode_application(r.raw) for r in records if isinstance(r, DatasetRecord)
    ] == applications
    assert [r.key() for r in records] == [a.application_id.encode() for a in applications]
    assert [r.offset() for r in records] == [0, 1, 2, 3, 4]


class ListSource:
    name = "test"

    def __init__(self, batches: Sequence[Sequence[InboundMessage]]) -> None:
        self._batches = batches
        self.total = sum(len(batch) for batch in batches)

    def batches(self) -> Iterator[tuple[Sequence[InboundMessage], int]]:
        for batch in self._batches:
            yield batch, len(batch)
        yield [], 3  # a step of transaction markers only: progress, no records


class ListSink:
    def __init__(self) -> None:
        self.records: list[OutboundRecord] = []
        self.closed = False

    def write(self, record: OutboundRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def pipeline(model_dir: Path) -> ScoringPipeline:
    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    return ScoringPipeline(assets.model, assets.policy, output_topic="s", dlq_topic="d")


def _record(raw: bytes, key: str, position: int) -> DatasetRecord:
    return DatasetRecord(raw, key, position)


def test_every_input_comes_out_once_and_invalid_ones_are_counted_by_reason(
    pipeline: ScoringPipeline,
) -> None:
    good = [
        _record(orjson.dumps(example_application(application_id=f"a-{i}")), f"a-{i}", i)
        for i in range(3)
    ]
    bad = [
        _record(b"{not json", "b-1", 3),
        _record(orjson.dumps(example_application(loan={"amount": -5})), "b-2", 4),
    ]
    sink = ListSink()
    steps: list[int] = []
    counts = rescore(
        ListSource([good[:2], [bad[0], good[2], bad[1]]]), pipeline, sink, progress=steps.append
    )

    assert (counts.read, counts.scored, counts.dead_lettered) == (5, 3, 2)
    assert counts.dead_letters == {"invalid_json": 1, "schema_violation": 1}
    assert steps == [2, 3, 3]
    assert sink.closed
    assert [(r.topic, r.key) for r in sink.records] == [
        ("s", b"a-0"),
        ("s", b"a-1"),
        ("d", b"b-1"),
        ("s", b"a-2"),
        ("d", b"b-2"),
    ]
    assert "5 applications: 3 scored, 2 dead letters (invalid_json 1, schema_violation 1)" in (
        counts.summary()
    )


def test_the_sink_is_closed_even_when_a_batch_fails(pipeline: ScoringPipeline) -> None:
    class FailingSource(ListSource):
        def batches(self) -> Iterator[tuple[Sequence[InboundMessage], int]]:
            raise RescoreError("topic vanished")

    sink = ListSink()
    with pytest.raises(RescoreError, match="vanished"):
        rescore(FailingSource([]), pipeline, sink)
    assert sink.closed


def test_a_dead_letter_line_keeps_the_bytes_and_says_why() -> None:
    record = OutboundRecord(
        "d", b"app-9", b"\xff{broken", headers=[("__loan_scorer.errors.reason", b"invalid_json")]
    )
    line = orjson.loads(dead_letter_line(record))
    assert line["key"] == "app-9"
    assert base64.b64decode(line["value_base64"]) == b"\xff{broken"
    assert line["headers"] == [["__loan_scorer.errors.reason", "invalid_json"]]


def test_json_lines_sink_writes_scores_and_dead_letters_to_their_files(tmp_path: Path) -> None:
    destination = Destination("file", str(tmp_path / "s.jsonl"), str(tmp_path / "d.jsonl"))
    sink = JsonLinesSink(destination)
    sink.write(OutboundRecord(destination.scores, b"a", b'{"x":1}'))
    sink.write(OutboundRecord(destination.dead_letters, b"b", b"junk"))
    sink.close()
    assert (tmp_path / "s.jsonl").read_bytes() == b'{"x":1}\n'
    assert orjson.loads((tmp_path / "d.jsonl").read_bytes())["key"] == "b"


def test_the_data_set_through_the_cli_gives_score_batch_s_answers(
    model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "book.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "rescore",
            "--from-dataset",
            "--to-file",
            str(out),
            "--model-dir",
            str(model_dir),
            "--batch-size",
            "1000",
        ],
        env={"LOAN_SCORER_MODEL_DIR": str(model_dir)},
    )
    assert result.exit_code == 0, result.output
    applications = load_credit_data().applications
    assert f"rescored {len(applications)} applications: {len(applications)} scored" in result.stdout
    scores = [decode_loan_scored(line) for line in out.read_bytes().splitlines()]
    assert (tmp_path / "book.dlq.jsonl").read_bytes() == b""

    assets = load_assets(Settings.model_validate({"model_dir": model_dir}))
    expected = [  # the same inputs: score_batch on the same batches
        outcome
        for start in range(0, len(applications), 1000)
        for outcome in score_batch(applications[start : start + 1000], assets.model, assets.policy)
    ]
    assert [s.application_id for s in scores] == [a.application_id for a in applications]
    for scored, outcome in zip(scores, expected, strict=True):
        assert isinstance(outcome, ScoreResult)
        assert scored.probability_of_default == outcome.probability_of_default
        assert (scored.risk_grade.value, scored.decision.value) == (
            outcome.risk_grade,
            outcome.decision,
        )
        assert [r.code for r in scored.reasons] == [r.code for r in outcome.reasons]


def test_the_cli_refuses_a_destination_before_loading_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rescore", "--from-dataset"])
    assert result.exit_code == 2
    assert "exactly one of --to-topic and --to-file" in result.stderr
    missing = CliRunner().invoke(
        app,
        [
            "rescore",
            "--from-dataset",
            "--to-file",
            str(tmp_path / "x.jsonl"),
            "--model-dir",
            str(tmp_path),
        ],
    )
    assert missing.exit_code == 2
    assert "cannot load the model or policy" in missing.stderr


def test_a_topic_sink_whose_queue_stays_full_ends_the_run_instead_of_waiting_for_ever() -> None:
    """Brokers that take nothing: the sink's wait is bounded by its timeout (issue 23)."""
    from consumer.records import OutboundRecord
    from consumer.tools.rescore import RescoreError, TopicSink

    class FullProducer:
        polls = 0

        def produce(self, *_args: object, **_kwargs: object) -> None:
            raise BufferError("queue full")

        def poll(self, _timeout: float) -> int:
            FullProducer.polls += 1
            return 0

    sink = TopicSink({"bootstrap.servers": "127.0.0.1:1"}, timeout_s=0.3)
    sink._producer = FullProducer()  # type: ignore[assignment]  # a queue that never drains
    with pytest.raises(RescoreError, match="nothing could be sent to scores for 0 s"):
        sink.write(OutboundRecord(topic="scores", key=b"k", value=b"v"))
    assert FullProducer.polls > 1  # it served delivery reports while it waited
