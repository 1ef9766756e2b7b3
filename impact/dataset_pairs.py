"""Joined pairs from the credit data set itself: a model's scores on the test split, joined with
the data set's real `Status` labels. Never made-up outcomes.

It is what the report and the metrics are tested on, and what an analyst can run the report on
before any outcome has arrived from production. The data set records no dates, so `scored_at`
is the application's `occurred_at` (the data set's fixed, reproducible epoch plus its row
number) and `observed_at` equals it: the label was known with the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from impact.pairs import KNOCK_OUT_PREFIX, PAIR_COLUMNS, Role, age_band, validate_pairs
from schemas.application_v1 import LoanApplicationSubmitted
from scoring.artifact import LoadedModel
from scoring.features import build_features
from scoring.policy import Policy
from scoring.scorer import ScoreResult, score_batch
from training.dataset import load_credit_data
from training.seed_study import TEST_SIZE

DEFAULT_SEED: Final = 42  # the seed `make model` trains with: its test split was never fitted


@dataclass(frozen=True, slots=True)
class HeldOut:
    """The held-out applications of a training seed with their real outcomes (1 = bad)."""

    applications: list[LoanApplicationSubmitted]
    labels: npt.NDArray[np.int64]

    def features(self) -> npt.NDArray[np.float64]:
        return build_features(self.applications)


def held_out_split(seed: int = DEFAULT_SEED) -> HeldOut:
    """The rows `training.seed_study.split` holds out for `seed`: the same stratified shuffle on
    the row indices gives the same partition as on the features."""
    data = load_credit_data()
    labels = np.asarray(data.labels, dtype=np.int64)
    _, test_index = train_test_split(
        np.arange(labels.size), test_size=TEST_SIZE, stratify=labels, random_state=seed
    )
    order = np.sort(test_index)
    return HeldOut([data.applications[i] for i in order], labels[order])


def pairs_from_scores(
    applications: Sequence[LoanApplicationSubmitted],
    labels: npt.ArrayLike,
    scores: Sequence[ScoreResult],
    role: Role,
) -> pd.DataFrame:
    """The joined-pair frame of scores with the applications they scored and their outcomes."""
    outcomes = np.asarray(labels, dtype=np.int64)
    if not len(applications) == outcomes.size == len(scores):
        raise ValueError("applications, labels and scores must line up one to one")
    rows = []
    for app, label, score in zip(applications, outcomes.tolist(), scores, strict=True):
        if score.application_id != app.application_id:
            raise ValueError(f"score of {score.application_id} is not {app.application_id}'s")
        rows.append(
            {
                "application_id": app.application_id,
                "model_version": score.model_version,
                "role": role,
                "policy_version": score.policy_version,
                "pd": score.probability_of_default,
                "grade": score.risk_grade,
                "decision": score.decision,
                "knock_outs": " ".join(
                    reason.code
                    for reason in score.reasons
                    if reason.code.startswith(KNOCK_OUT_PREFIX)
                ),
                "defaulted": bool(label),
                "exposure": float(app.loan.amount),
                "age_band": age_band(app.applicant.age),
                "marital_status": app.applicant.marital_status.value,
                "scored_at": app.occurred_at,
                "observed_at": app.occurred_at,
            }
        )
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    for column in ("scored_at", "observed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    frame["defaulted"] = frame["defaulted"].astype("bool")
    return validate_pairs(frame)


def score_held_out(
    held_out: HeldOut, model: LoadedModel, policy: Policy, role: Role = "champion"
) -> pd.DataFrame:
    """Score the held-out rows with `score_batch` (the stream's function); join the labels."""
    outcomes = score_batch(held_out.applications, model, policy)
    scores = [outcome for outcome in outcomes if isinstance(outcome, ScoreResult)]
    if len(scores) != len(outcomes):
        raise ValueError("every test-split application must be scorable")
    return pairs_from_scores(held_out.applications, held_out.labels, scores, role)
