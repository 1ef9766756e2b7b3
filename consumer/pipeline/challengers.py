"""Champion and challengers in one process: canary routing by a stable hash, shadow scoring in the
champion's transaction.

- **Canary**: a configured share of applications is scored by a challenger instead of the
  champion; its score is the acting one, on the output topic, with `model_role: canary`. Which
  applications is decided by `canary_bucket(application_id)`: the first 8 bytes of the SHA-256 of
  the UTF-8 application id (the record key, by contract), as a big-endian unsigned integer over
  2**64, a number in [0, 1). Canary k owns [s1 + ... + s(k-1), s1 + ... + sk). The same
  application gets the same model on every replica and after every restart, and raising a share
  keeps the applications already on the canary there.
- **Shadow**: every application scored (by the champion or a canary) is also scored by each
  shadow challenger, and an application a canary decides is scored by the champion too; those
  scores go to the shadow topic with `model_role: shadow`, in the same Kafka transaction as the
  acting scores, and are never acted on. So every challenger, canary or shadow, is compared with
  the champion on the same applications. A shadow challenger that cannot
  score an application is counted, never dead-letters it: the acting score stands.

Without challengers the service uses the champion's `ScoringPipeline` directly: this module is
not on that path at all.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from pydantic import ValidationError

from consumer.pipeline.dedup import ScoredIds
from consumer.pipeline.scored_event import loan_scored_event, scored_fact
from consumer.pipeline.scoring import ScoringPipeline
from consumer.records import (
    BatchOutcome,
    InboundMessage,
    OutboundRecord,
    ScoredFact,
    UtcClock,
    utc_now,
)
from consumer.state.scored_id import ScoredId
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.encode import encode_loan_scored
from schemas.score_v1 import ModelRole
from scoring.artifact import LoadedModel
from scoring.drift import BinCounts
from scoring.policy import Policy
from scoring.scorer import ScoreResult, score_batch_isolated

logger = logging.getLogger(__name__)

_TWO_TO_THE_64 = float(2**64)


def canary_bucket(application_id: str | bytes) -> float:
    """Where an application falls in [0, 1): stable across processes, replicas and releases
    (unlike Python's `hash`, which is salted per process)."""
    raw = application_id.encode() if isinstance(application_id, str) else application_id
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") / _TWO_TO_THE_64


@dataclass(frozen=True)
class CanaryRoute:
    """A canary and the slice of [0, 1) it owns."""

    pipeline: ScoringPipeline
    low: float
    high: float


def canary_slices(shares: Sequence[float]) -> list[tuple[float, float]]:
    """Consecutive slices of [0, 1) for the canaries' shares, in order; their sum is at most 1
    (the settings refuse more), the rest is the champion's."""
    slices: list[tuple[float, float]] = []
    low = 0.0
    for share in shares:
        slices.append((low, low + share))
        low += share
    return slices


def route(key: str | bytes | None, canaries: Sequence[tuple[float, float]]) -> int | None:
    """The canary (its index) that scores the application with this record key, or None for the
    champion. A record without a key cannot be routed by application and stays the champion's."""
    if key is None or not canaries:
        return None
    bucket = canary_bucket(key)
    for index, (low, high) in enumerate(canaries):
        if low <= bucket < high:
            return index
    return None


class _BatchPreparedSeen:
    """The shared store of scored ids, prepared once for the whole batch by `ChampionChallengers`:
    a sub-batch's own `prepare` would see a gap in the offsets and catch up from the changelog."""

    def __init__(self, store: ScoredIds) -> None:
        self._store = store

    def prepare(self, positions: Iterable[tuple[int, int]]) -> None:
        del positions  # prepared by the caller for the whole batch

    def lookup(self, partition: int, event_ids: Collection[str]) -> dict[str, ScoredId]:
        return self._store.lookup(partition, event_ids)

    def stage(self, partition: int, event_id: str, scored: ScoredId) -> None:
        self._store.stage(partition, event_id, scored)


def batch_prepared(store: ScoredIds | None) -> ScoredIds | None:
    """What the champion's and canaries' pipelines get as their store when canaries split the
    batch (see `_BatchPreparedSeen`)."""
    return None if store is None else _BatchPreparedSeen(store)


@dataclass(frozen=True)
class ShadowModel:
    model: LoadedModel


class ChampionChallengers:
    """A `BatchProcessor`: the champion (and canaries, by key) for the acting scores, then each
    shadow challenger on every application scored."""

    def __init__(
        self,
        champion: ScoringPipeline,
        policy: Policy,
        *,
        shadow_topic: str,
        canaries: Sequence[CanaryRoute] = (),
        shadows: Sequence[ShadowModel] = (),
        champion_model: LoadedModel | None = None,
        seen: ScoredIds | None = None,
        clock: UtcClock = utc_now,
    ) -> None:
        """`seen` is the store the pipelines were given through `batch_prepared`: prepared here,
        once per batch, before any pipeline (or canaries' part of the batch) sees it.
        `champion_model`, with canaries: the champion scores the canaries' applications in
        shadow, so champion and canary are compared on the same applications."""
        if canaries and champion_model is None:
            raise ValueError("canaries need the champion's model to shadow their applications")
        self._champion = champion
        self._champion_model = champion_model
        self._policy = policy
        self._shadow_topic = shadow_topic
        self._canaries = list(canaries)
        self._slices = [(canary.low, canary.high) for canary in self._canaries]
        self._shadows = list(shadows)
        self._seen = seen
        self._clock = clock

    def __call__(self, messages: Sequence[InboundMessage]) -> BatchOutcome:
        started = time.perf_counter()
        if self._seen is not None:
            self._seen.prepare((int(m.partition() or 0), int(m.offset() or 0)) for m in messages)
        if self._canaries:
            outcome, on_canaries = self._acting(messages)
        else:
            outcome, on_canaries = self._champion(messages), ()
        jobs = [(shadow.model, outcome.applications) for shadow in self._shadows]
        if on_canaries and self._champion_model is not None:
            jobs.insert(0, (self._champion_model, on_canaries))
        if jobs and outcome.applications:
            outcome = self._with_shadow_scores(outcome, jobs)
        return replace(outcome, scoring_seconds=time.perf_counter() - started)

    def _acting(
        self, messages: Sequence[InboundMessage]
    ) -> tuple[BatchOutcome, tuple[LoanApplicationSubmitted, ...]]:
        """Split by route, score each part with its pipeline, merge back in input order; with
        the applications the canaries scored (for the champion to score in shadow)."""
        parts: list[list[int]] = [[] for _ in range(len(self._canaries) + 1)]
        for position, message in enumerate(messages):
            canary = route(message.key(), self._slices)
            parts[0 if canary is None else canary + 1].append(position)
        pipelines = [self._champion, *(canary.pipeline for canary in self._canaries)]
        scored = [
            (positions, pipeline([messages[p] for p in positions]))
            for positions, pipeline in zip(parts, pipelines, strict=True)
            if positions
        ]
        on_canaries = tuple(
            application
            for positions, part in scored
            if positions is not parts[0]
            for application in part.applications
        )
        return merge_outcomes(scored, len(messages)), on_canaries

    def _with_shadow_scores(
        self,
        outcome: BatchOutcome,
        jobs: Sequence[tuple[LoadedModel, Sequence[LoanApplicationSubmitted]]],
    ) -> BatchOutcome:
        """Each (model, applications) job's scores as shadow records, in job order."""
        records: list[OutboundRecord] = []
        facts: list[ScoredFact] = []
        failures: list[str] = []
        for model, applications in jobs:
            results = score_batch_isolated(applications, model, self._policy)
            for application, result in zip(applications, results, strict=True):
                record = self._shadow_record(application, result)
                if record is None or not isinstance(result, ScoreResult):
                    failures.append(model.model_version)
                    continue
                records.append(record)
                facts.append(scored_fact(application, result, ModelRole.SHADOW))
        return replace(
            outcome,
            shadow=records,
            shadow_scored=facts,
            shadow_failures=tuple(failures),
        )

    def _shadow_record(
        self, application: LoanApplicationSubmitted, result: object
    ) -> OutboundRecord | None:
        if not isinstance(result, ScoreResult):
            logger.warning(
                "shadow challenger could not score an application; the acting score stands",
                extra={"application_id": application.application_id},
            )
            return None
        try:
            event = loan_scored_event(
                application, result, scored_at=self._clock(), model_role=ModelRole.SHADOW
            )
        except ValidationError:
            logger.warning(
                "shadow score rejected by the contract; the acting score stands",
                extra={"application_id": application.application_id},
            )
            return None
        return OutboundRecord(
            topic=self._shadow_topic,
            key=application.application_id.encode(),
            value=encode_loan_scored(event),
        )


def merge_outcomes(parts: Sequence[tuple[list[int], BatchOutcome]], size: int) -> BatchOutcome:
    """One outcome from the outcomes of sub-batches, each given with the input positions of its
    messages: records back in input order (skipped duplicates keep no record), the rest joined."""
    records: list[OutboundRecord | None] = [None] * size
    skipped: list[int] = []
    scored: list[ScoredFact] = []
    applications: list[LoanApplicationSubmitted] = []
    reasons: list[str] = []
    changelog: list[OutboundRecord] = []
    drift: BinCounts | None = None
    for positions, outcome in parts:
        skipped_here = set(outcome.skipped)
        produced = iter(outcome.records)
        for local, position in enumerate(positions):
            if local in skipped_here:
                skipped.append(position)
            else:
                records[position] = next(produced)
        scored.extend(outcome.scored)
        applications.extend(outcome.applications)
        reasons.extend(outcome.dead_letter_reasons)
        changelog.extend(outcome.changelog)
        if outcome.drift is not None:
            drift = outcome.drift if drift is None else drift + outcome.drift
    return BatchOutcome(
        records=[record for record in records if record is not None],
        scored=scored,
        dead_letter_reasons=reasons,
        skipped=tuple(sorted(skipped)),
        changelog=changelog,
        drift=drift,
        applications=tuple(applications),
    )
