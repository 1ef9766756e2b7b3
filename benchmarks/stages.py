"""Where the time of one event goes, stage by stage, through the public functions the stream
calls, on real events in batches of the scorer's size. In microseconds per event.

The scoring internals are being redesigned: everything that knows how the model and the reasons
are called is in `_model_and_reasons`, so a change there is a change here in one place.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from consumer.pipeline.scored_event import loan_scored_event, loan_scored_json
from consumer.pipeline.scoring import ScoringPipeline
from consumer.tools.rescore_sources import DatasetRecord
from schemas.application_v1 import LoanApplicationSubmitted
from schemas.decode import decode_application
from schemas.encode import encode_loan_scored
from schemas.wire import FramedApplicationDecoder, WriterSchema, frame
from scoring.artifact import LoadedModel
from scoring.features import build_features
from scoring.policy import Policy
from scoring.scorer import ScoreResult, score_batch

Stage = Callable[[], object]


def _model_and_reasons(model: LoadedModel) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(features -> what the reasons need, that -> reasons) for the model as it is built."""
    from scoring import reasons

    top_reasons: Any = reasons.top_reasons
    scorecard: Any = getattr(model, "scorecard", None)
    if scorecard is not None:  # an additive scorecard: the terms give the PD and the reasons
        from scoring.additive import probability_of_default  # type: ignore[import-not-found,unused-ignore]

        def predict(features: Any) -> Any:
            terms = scorecard.group_terms(features)
            return features, terms, probability_of_default(scorecard.log_odds(terms))

        def explain(state: Any) -> Any:
            features, terms, _pd = state
            return top_reasons(features, terms, model.reference, model.reference_terms)

        return predict, explain

    def predict_pd(features: Any) -> Any:  # a black box: reasons by occlusion
        return features, model.predict_pd(features)

    def occlude(state: Any) -> Any:
        features, pd = state
        return top_reasons(model.predict_pd, features, pd, model.reference)

    return predict_pd, occlude


def _timings(call: Callable[[int], object], repeats: int, budget_s: float) -> list[float]:
    """Seconds of each call, `repeats` times or until `budget_s` is spent (at least once)."""
    timings: list[float] = []
    spent_until = time.perf_counter() + budget_s
    while len(timings) < repeats and (not timings or time.perf_counter() < spent_until):
        started = time.perf_counter()
        call(len(timings))
        timings.append(time.perf_counter() - started)
    return timings


def _per_event_us(stage: Stage, events: int, repeats: int) -> float:
    return 1e6 * statistics.median(_timings(lambda _i: stage(), repeats, 3.0)) / events


def stage_profile(
    raw_events: Sequence[bytes], model: LoadedModel, policy: Policy, batch_size: int, repeats: int
) -> dict[str, float]:
    """Microseconds per event of each stage, each over the same events in batches."""
    batches = [raw_events[i : i + batch_size] for i in range(0, len(raw_events), batch_size)]
    apps: list[list[LoanApplicationSubmitted]] = [
        [decode_application(raw) for raw in batch] for batch in batches
    ]
    features = [build_features(batch) for batch in apps]
    predict, explain = _model_and_reasons(model)
    predicted = [predict(matrix) for matrix in features]
    results = [
        [r for r in score_batch(batch, model, policy) if isinstance(r, ScoreResult)]
        for batch in apps
    ]
    now = datetime.now(UTC)
    pipeline = ScoringPipeline(model, policy, output_topic="out", dlq_topic="dlq")
    messages = [
        [DatasetRecord(raw, f"k{i}", i) for i, raw in enumerate(batch)] for batch in batches
    ]
    registry_decoder = FramedApplicationDecoder(lambda schema_id: WriterSchema(schema_id, 1))
    framed_batches = [[frame(1, raw) for raw in batch] for batch in batches]
    stages: dict[str, Stage] = {
        "decode+validate": lambda: [[decode_application(raw) for raw in b] for b in batches],
        "features": lambda: [build_features(b) for b in apps],
        "model": lambda: [predict(matrix) for matrix in features],
        "reasons": lambda: [explain(state) for state in predicted],
        "score_batch (features+model+reasons+policy)": lambda: [
            score_batch(b, model, policy) for b in apps
        ],
        "LoanScored bytes (mapping+encode, as the stream does)": lambda: [
            [loan_scored_json(a, r, scored_at=now) for a, r in zip(b, rs, strict=True)]
            for b, rs in zip(apps, results, strict=True)
        ],
        "LoanScored validated+encoded (as the API does)": lambda: [
            [
                encode_loan_scored(loan_scored_event(a, r, scored_at=now))
                for a, r in zip(b, rs, strict=True)
            ]
            for b, rs in zip(apps, results, strict=True)
        ],
        "pipeline (all of the above)": lambda: [pipeline(b) for b in messages],
        # With a schema registry (not part of the pipeline above): the same events framed with a
        # schema id, through the decoder that strips the framing (the id's lookup cached after the
        # first event, as in the scorer), and plain JSON through that decoder.
        "decode+validate, registry wire format": lambda: [
            [registry_decoder(raw) for raw in b] for b in framed_batches
        ],
        "decode+validate, plain JSON with a registry": lambda: [
            [registry_decoder(raw) for raw in b] for b in batches
        ],
    }
    return {name: _per_event_us(stage, len(raw_events), repeats) for name, stage in stages.items()}


def score_one_ms(
    apps: Sequence[LoanApplicationSubmitted], model: LoadedModel, policy: Policy, calls: int
) -> float:
    """Median milliseconds of `score_batch` on one application, over `calls` different ones
    (fewer if they take more than 5 s in all)."""
    timings = _timings(lambda i: score_batch([apps[i % len(apps)]], model, policy), calls, 5.0)
    return 1000 * statistics.median(timings)
