"""The candidate models compared by cross-validation, each a scikit-learn Pipeline on the features.

Small and regularised on purpose: 3,557 training applications do not support a large model, and
the calibration and reason codes are only as stable as the model under them.
"""

from __future__ import annotations

from typing import Final

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler

from scoring.features import FEATURE_NAMES

CANDIDATE_NAMES: Final = ("logistic_l2", "logistic_spline", "gradient_boosting", "blend")

# Column positions in the feature matrix: splines for quantities, 0/1 flags passed through as is.
_FLAGS: Final = tuple(
    i for i, name in enumerate(FEATURE_NAMES) if "=" in name or name == "has_prior_records"
)
_CONTINUOUS: Final = tuple(i for i in range(len(FEATURE_NAMES)) if i not in _FLAGS)


def logistic_l2() -> Pipeline:
    """Linear in the features: the baseline every credit team understands."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=0.5, max_iter=2000)),
        ]
    )


def logistic_spline() -> Pipeline:
    """Additive but not linear: each continuous feature gets a smooth curve (quantile knots)."""
    curves = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            (
                "spline",
                SplineTransformer(n_knots=5, degree=3, knots="quantile", include_bias=False),
            ),
        ]
    )
    return Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("curves", curves, list(_CONTINUOUS)), ("flags", "passthrough", list(_FLAGS))]
                ),
            ),
            ("model", LogisticRegression(C=0.2, max_iter=3000)),
        ]
    )


def gradient_boosting(seed: int) -> Pipeline:
    """Shallow trees with interactions; missing values are routed natively, never imputed."""
    return Pipeline(
        [
            (
                "model",
                HistGradientBoostingClassifier(
                    learning_rate=0.03,
                    max_iter=300,
                    max_depth=2,
                    min_samples_leaf=50,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=seed,
                ),
            )
        ]
    )


def blend(seed: int) -> Pipeline:
    """The average of the spline logistic and the boosted trees: their errors differ."""
    return Pipeline(
        [
            (
                "model",
                VotingClassifier(
                    [("spline", logistic_spline()), ("trees", gradient_boosting(seed))],
                    voting="soft",
                ),
            )
        ]
    )


def build_candidates(seed: int) -> dict[str, Pipeline]:
    return {
        "logistic_l2": logistic_l2(),
        "logistic_spline": logistic_spline(),
        "gradient_boosting": gradient_boosting(seed),
        "blend": blend(seed),
    }
