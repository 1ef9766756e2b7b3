"""Champion and challengers on plain objects: stable canary routing, acting scores in input order,
shadow scores beside them, and deduplication across the split."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from consumer.config.settings import Settings
from consumer.pipeline.challengers import (
    CanaryRoute,
    ChampionChallengers,
    ShadowModel,
    batch_prepared,
    canary_bucket,
    canary_slices,
    merge_outcomes,
    route,
)
from consumer.pipeline.dedup import ScoredIds, changelog_entries
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import BatchOutcome, OutboundRecord
from consumer.runtime.assets import ScoringAssets, load_assets
from consumer.state.partitions import PartitionStates
from consumer.state.scored_id import ScoredId
from schemas.decode import decode_application, decode_loan_scored
from schemas.examples import example_application
from schemas.score_v1 import ModelRole
from scoring.artifact import load_model
from scoring.scorer import ScoreResult, score_batch
from tests.consumer.state.changelog_fake import FakeChangelog
from tests.consumer.test_pipeline import FakeMessage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_the_bucket_is_the_documented_sha256_prefix() -> None:
    # Worked out by hand from the README's recipe: sha256("app-000001")[:8] / 2**64.
    assert canary_bucket("app-000001") == pytest.approx(0.5370172983091808, abs=1e-15)
    assert canary_bucket(b"app-000002") == pytest.approx(0.2845261942735371, abs=1e-15)


def test_ten_thousand_applications_split_within_one_point_of_the_share() -> None:
    slices = canary_slices([0.2])
    routed = [route(f"app-{i:06d}".encode(), slices) for i in range(10_000)]
    assert abs(routed.count(0) / 10_000 - 0.2) < 0.01
    assert set(routed) == {0, None}


def test_raising_the_share_keeps_every_canary_application_on_the_canary() -> None:
    keys = [f"app-{i:06d}".encode() for i in range(2_000)]
    before = {key for key in keys if route(key, canary_slices([0.05])) == 0}
    after = {key for key in keys if route(key, canary_slices([0.10])) == 0}
    assert before < after


def test_consecutive_canaries_own_consecutive_slices() -> None:
    assert canary_slices([0.1, 0.25]) == [(0.0, 0.1), (0.1, pytest.approx(0.35))]
    slices = canary_slices([0.3, 0.3])
    assert route(b"app-000002", slices) == 0  # bucket 0.285
    assert route(b"app-000001", slices) == 1  # bucket 0.537
    assert route(b"app-000001", canary_slices([0.3])) is None
    assert route(None, slices) is None


def test_a_record_without_a_key_stays_with_the_champion() -> None:
    assert route(None, canary_slices([1.0])) is None
    assert route(b"anything", canary_slices([1.0])) == 0


@pytest.fixture(scope="module")
def assets(model_dir: Path) -> ScoringAssets:
    return load_assets(Settings.model_validate({"model_dir": model_dir}))


def _pipeline(
    assets: ScoringAssets, model_dir: Path, role: ModelRole, seen: ScoredIds | None = None
) -> ScoringPipeline:
    return ScoringPipeline(
        load_model(model_dir),
        assets.policy,
        output_topic="out",
        dlq_topic="dlq",
        clock=lambda: NOW,
        model_role=role,
        seen=seen,
        changelog_topic="ids" if seen is not None else None,
    )


def _messages(count: int, broken_at: tuple[int, ...] = ()) -> list[FakeMessage]:
    messages = []
    for i in range(count):
        application = example_application(
            application_id=f"app-{i:06d}", event_id=str(uuid.UUID(int=i + 1, version=4))
        )
        if i in broken_at:
            application["loan"]["amount"] = "1000"  # a string: schema violation
        messages.append(FakeMessage(orjson.dumps(application), f"app-{i:06d}".encode(), off=i))
    return messages


def test_shadow_scores_go_to_the_shadow_topic_only_for_scored_applications(
    assets: ScoringAssets, model_dir: Path, challenger_model_dir: Path
) -> None:
    challenger = load_model(challenger_model_dir)
    assert challenger.model_version != assets.model.model_version
    processor = ChampionChallengers(
        _pipeline(assets, model_dir, ModelRole.CHAMPION),
        assets.policy,
        shadow_topic="shadow",
        shadows=[ShadowModel(challenger)],
        clock=lambda: NOW,
    )
    messages = _messages(6, broken_at=(2,))
    outcome = processor(messages)

    assert [r.topic for r in outcome.records] == ["out", "out", "dlq", "out", "out", "out"]
    acting = [decode_loan_scored(r.value) for r in outcome.records if r.topic == "out"]
    assert {(s.model_version, s.model_role) for s in acting} == {
        (assets.model.model_version, ModelRole.CHAMPION)
    }
    assert {r.topic for r in outcome.shadow} == {"shadow"}
    shadow = [decode_loan_scored(r.value) for r in outcome.shadow]
    assert [s.application_id for s in shadow] == [s.application_id for s in acting]
    assert {(s.model_version, s.model_role) for s in shadow} == {
        (challenger.model_version, ModelRole.SHADOW)
    }
    # The challenger's own score_batch, not the champion's PD relabelled.
    applications = [decode_application(m.raw) for i, m in enumerate(messages) if i != 2]
    expected = score_batch(applications, challenger, assets.policy)
    assert [s.probability_of_default for s in shadow] == [
        r.probability_of_default for r in expected if isinstance(r, ScoreResult)
    ]
    assert [s.probability_of_default for s in shadow] != [s.probability_of_default for s in acting]
    assert [r.key for r in outcome.shadow] == [s.application_id.encode() for s in shadow]
    assert [f.model_role for f in outcome.shadow_scored] == [ModelRole.SHADOW] * 5
    assert outcome.shadow_failures == ()


def test_canary_applications_are_decided_by_the_canary_in_input_order(
    assets: ScoringAssets, model_dir: Path, challenger_model_dir: Path
) -> None:
    champion = _pipeline(assets, model_dir, ModelRole.CHAMPION)
    canary = _pipeline(assets, challenger_model_dir, ModelRole.CANARY)
    processor = ChampionChallengers(
        champion,
        assets.policy,
        shadow_topic="shadow",
        canaries=[CanaryRoute(canary, 0.0, 0.5)],
        champion_model=assets.model,
    )
    messages = _messages(40, broken_at=(7,))
    outcome = processor(messages)

    assert len(outcome.records) == 40
    assert outcome.records[7].topic == "dlq"
    expected_roles = {
        f"app-{i:06d}": "canary" if canary_bucket(f"app-{i:06d}") < 0.5 else "champion"
        for i in range(40)
        if i != 7
    }
    scored = [decode_loan_scored(r.value) for r in outcome.records if r.topic == "out"]
    assert [s.application_id for s in scored] == list(expected_roles)  # input order
    assert {s.application_id: s.model_role for s in scored} == expected_roles
    versions = {s.model_role: s.model_version for s in scored}
    assert versions[ModelRole.CANARY] == load_model(challenger_model_dir).model_version
    assert versions[ModelRole.CHAMPION] == assets.model.model_version
    assert 5 < list(expected_roles.values()).count("canary") < 35  # both sides exercised
    assert sorted(f.model_role or "" for f in outcome.scored) == sorted(expected_roles.values())
    # The champion scores the canary's applications in shadow: both judged on the same ones.
    shadow = [decode_loan_scored(r.value) for r in outcome.shadow]
    on_canary = sorted(a for a, role in expected_roles.items() if role == "canary")
    assert sorted(s.application_id for s in shadow) == on_canary
    assert {(s.model_version, s.model_role) for s in shadow} == {
        (assets.model.model_version, ModelRole.SHADOW)
    }
    assert {r.topic for r in outcome.shadow} == {"shadow"}


def _states(root: Path, changelog: FakeChangelog) -> PartitionStates:
    return PartitionStates(
        root, changelog_topic="ids", window_s=3600, source=changelog, clock=NOW.timestamp
    )


def _commit(states: PartitionStates, changelog: FakeChangelog, outcome: BatchOutcome) -> None:
    """What the loop does once the batch's transaction committed."""
    for r in outcome.changelog:
        assert r.partition is not None
        changelog.append(r.partition, changelog_entries(r.key, r.value, 0))
    states.commit()


def test_deduplication_holds_across_the_canary_split_with_one_restore(
    assets: ScoringAssets, model_dir: Path, challenger_model_dir: Path, tmp_path: Path
) -> None:
    changelog = FakeChangelog()
    changelog.append(2, [("scored-before", ScoredId(NOW.timestamp(), bytes(16), -1))])
    store = _states(tmp_path, changelog)
    shared = batch_prepared(store)
    processor = ChampionChallengers(
        _pipeline(assets, model_dir, ModelRole.CHAMPION, shared),
        assets.policy,
        shadow_topic="shadow",
        canaries=[
            CanaryRoute(_pipeline(assets, challenger_model_dir, ModelRole.CANARY, shared), 0, 0.5)
        ],
        champion_model=assets.model,
        seen=store,
    )
    first = _messages(20)
    outcome = processor(first)
    assert outcome.duplicates == 0
    # Every scored id is in the changelog once, in one record per sub-batch and partition.
    ids = [i for r in outcome.changelog for i, _ in changelog_entries(r.key, r.value, 0)]
    assert len(ids) == len(set(ids)) == 20
    assert len({r.key for r in outcome.changelog}) == len(outcome.changelog)
    _commit(store, changelog, outcome)
    assert store.ids_held == 21  # the shared store, through the canary split
    # The same events again, next offsets: all duplicates, and the changelog was read once.
    again = [FakeMessage(m.raw, m.k, off=20 + i) for i, m in enumerate(first)]
    repeat = processor(again)
    assert (repeat.records, repeat.duplicates) == ([], 20)
    assert changelog.reads == [(2, 0)]
    store.close()


def test_merging_puts_records_back_by_position_and_keeps_skips() -> None:
    def record(name: str) -> OutboundRecord:
        return OutboundRecord(topic="out", key=name.encode(), value=b"{}")

    merged = merge_outcomes(
        [
            ([0, 2, 4], BatchOutcome(records=[record("a"), record("e")], skipped=(1,))),
            ([1, 3], BatchOutcome(records=[record("b"), record("d")])),
        ],
        5,
    )
    assert [r.key for r in merged.records] == [b"a", b"b", b"d", b"e"]
    assert merged.skipped == (2,)


def test_deduplication_works_with_shadow_challengers_only(
    assets: ScoringAssets, model_dir: Path, challenger_model_dir: Path, tmp_path: Path
) -> None:
    changelog = FakeChangelog()
    store = _states(tmp_path, changelog)
    processor = ChampionChallengers(
        _pipeline(assets, model_dir, ModelRole.CHAMPION, batch_prepared(store)),
        assets.policy,
        shadow_topic="shadow",
        shadows=[ShadowModel(load_model(challenger_model_dir))],
        seen=store,
    )
    first = _messages(5)
    outcome = processor(first)
    assert len(outcome.shadow) == 5
    _commit(store, changelog, outcome)
    again = processor([FakeMessage(m.raw, m.k, off=5 + i) for i, m in enumerate(first)])
    assert (again.records, again.shadow, again.duplicates) == ([], [], 5)
    store.close()


def test_canaries_without_the_champions_model_are_refused(
    assets: ScoringAssets, model_dir: Path
) -> None:
    with pytest.raises(ValueError, match="champion's model"):
        ChampionChallengers(
            _pipeline(assets, model_dir, ModelRole.CHAMPION),
            assets.policy,
            shadow_topic="shadow",
            canaries=[CanaryRoute(_pipeline(assets, model_dir, ModelRole.CANARY), 0, 0.1)],
        )
