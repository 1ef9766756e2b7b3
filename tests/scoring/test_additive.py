"""The compiled scorecard is the fitted model, exactly, and refuses what it cannot be."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from scoring.additive import (
    GROUP_NAMES,
    PD_FLOOR,
    compile_scorecard,
    probability_of_default,
    verify_against,
)
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES, build_features
from training.candidates import build_candidates
from training.dataset import load_credit_data

DATA = load_credit_data()
X = build_features(DATA.applications)
y = np.asarray(DATA.labels, dtype=np.int64)


def _hard_rows() -> npt.NDArray[np.float64]:
    """Real rows pushed beyond the training range, to zero and to missing, column by column."""
    rows = X[:400].copy()
    for column, name in enumerate(FEATURE_NAMES):
        if "=" in name or name == "has_prior_records":
            continue
        values = X[:, column]
        rows[column :: len(FEATURE_NAMES), column] = np.nanmax(values) * 5
        rows[column + 7 :: 97, column] = np.nanmin(values) - 100
        rows[column + 3 :: 89, column] = 0.0
        if np.isnan(values).any():
            rows[column + 11 :: 53, column] = np.nan
    return rows


@pytest.mark.parametrize("candidate", sorted(build_candidates()))
@pytest.mark.parametrize("calibrated", [True, False])
def test_the_scorecard_equals_scikit_learn(candidate: str, calibrated: bool) -> None:
    base = build_candidates()[candidate]
    estimator = (
        CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False) if calibrated else base
    ).fit(X, y)
    scorecard = compile_scorecard(estimator)
    rows = np.vstack([X, _hard_rows()])
    assert verify_against(scorecard, estimator, rows) < 1e-9
    # And the groups' terms add up to the log-odds: the reasons are the prediction.
    terms = scorecard.group_terms(rows)
    assert terms.shape == (rows.shape[0], len(GROUP_NAMES))
    np.testing.assert_array_equal(
        scorecard.intercept + terms.sum(axis=1), scorecard.log_odds(terms)
    )
    usable = np.abs(scorecard.log_odds(terms)) < 12.0
    assert usable.mean() > 0.95
    proba = estimator.predict_proba(rows[usable])[:, 1]
    np.testing.assert_allclose(
        scorecard.log_odds(terms[usable]), np.log(proba) - np.log1p(-proba), atol=1e-9
    )


def test_a_block_without_columns_is_skipped_not_refused() -> None:
    """Without the term among the model's inputs the uniform-knot block selects no column;
    scikit-learn never fits it, and the compiled scorecard must still be the model."""
    without_term = tuple(name for name in FEATURE_NAMES if name not in ("age", "term_months"))
    estimator = build_candidates(FEATURE_NAMES, without_term)["logistic_spline"].fit(X, y)
    scorecard = compile_scorecard(estimator)
    assert verify_against(scorecard, estimator, np.vstack([X, _hard_rows()])) < 1e-9
    assert not scorecard.column_terms(X)[:, FEATURE_NAMES.index("term_months")].any()


def test_a_scorecard_that_drifted_from_its_model_is_refused() -> None:
    estimator = build_candidates()["logistic_spline"].fit(X, y)
    scorecard = compile_scorecard(estimator)
    shifted = dataclasses.replace(scorecard, intercept=scorecard.intercept + 1e-6)
    with pytest.raises(ModelIntegrityError, match="differs from the fitted model"):
        verify_against(shifted, estimator, X[:50])


@pytest.mark.parametrize(
    "estimator",
    [
        CalibratedClassifierCV(build_candidates()["logistic_l2"], cv=3, ensemble=True),
        CalibratedClassifierCV(
            build_candidates()["logistic_l2"], method="isotonic", cv=3, ensemble=False
        ),
        Pipeline([("model", HistGradientBoostingClassifier(max_iter=5))]),
    ],
    ids=["five-calibrated-copies", "isotonic", "trees"],
)
def test_what_is_not_additive_is_refused(estimator: object) -> None:
    estimator.fit(X[:600], y[:600])  # type: ignore[attr-defined]  # any estimator
    with pytest.raises(ModelIntegrityError, match="cannot compile"):
        compile_scorecard(estimator)


def test_the_pd_is_floored_and_never_zero() -> None:
    pd = probability_of_default(np.array([-1000.0, -50.0, np.log(PD_FLOOR / (1 - PD_FLOOR)), 0.0]))
    assert pd[0] == PD_FLOOR
    assert pd[1] == PD_FLOOR
    assert pd[2] == pytest.approx(PD_FLOOR)
    assert pd[3] == 0.5
