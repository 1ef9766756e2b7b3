"""The serving form of the model: an additive scorecard compiled from the fitted pipeline.

The shipped model is additive in the log-odds: one smooth curve per quantity, one weight per flag
or category, one intercept, then a sigmoid calibration (a straight line in the log-odds). So the
log-odds of default of an application is a sum of one term per reason group, and each term is
that group's exact contribution: reason codes cost nothing beyond the prediction itself.

scikit-learn spends about 1.8 ms on the bookkeeping of one `predict_proba` call (input checks,
a `ColumnTransformer`, 24 spline evaluations), which is the whole latency budget of a single
application. Compiling the fitted pipeline into arrays (spline pieces as cubic polynomials,
weights, the calibration line) and evaluating every feature of a batch in a handful of numpy
operations costs tens of microseconds for one row and a few microseconds per row in a batch.
`compile_scorecard` refuses any pipeline it does not know how to compile, and `verify_against`
checks the compiled form against scikit-learn's own predictions before a model is ever used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.interpolate import BSpline, PPoly
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler

from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_GROUPS, FEATURE_NAMES

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]

# The regulatory floor for a retail PD (Basel III, CRR art. 160/163: 0.05 %). No application is
# ever given a PD of exactly zero, whatever the curves say.
PD_FLOOR: Final = 0.0005

# Compiled and scikit-learn log-odds may differ by float rounding only.
MAX_COMPILE_ERROR: Final = 1e-9
SATURATED: Final = 12.0

GROUP_NAMES: Final[tuple[str, ...]] = tuple(dict.fromkeys(FEATURE_GROUPS.values()))
_GROUP_OF_COLUMN: Final = np.array([GROUP_NAMES.index(FEATURE_GROUPS[n]) for n in FEATURE_NAMES])


@dataclass(frozen=True, slots=True)
class Curve:
    """One quantity's term: impute, then a piecewise cubic on the fitted range [low, high] and
    constants beyond it.

    `breaks` are the left ends of the pieces, `coefficients` one row of 4 (x^3 .. x^0 in the
    local variable x - break) per piece; `below`/`above` are the terms beyond the range (the
    transformer's "constant" extrapolation, which is not always the curve's end value when knots
    coincide at a boundary); `when_missing`/`when_present` add the term of the missing-value
    indicator, when the imputer kept one for this column.
    """

    column: int
    fill: float
    low: float
    high: float
    below: float
    above: float
    breaks: FloatVector
    coefficients: FloatMatrix
    when_missing: float
    when_present: float


@dataclass(frozen=True, slots=True)
class AdditiveScorecard:
    """log-odds(default) = intercept + sum of one term per feature column; PD = sigmoid of it."""

    intercept: float
    curves: tuple[Curve, ...]
    weights: FloatVector  # per feature column; 0 for columns carried by a curve
    _linear_columns: npt.NDArray[np.intp]  # the columns not carried by a curve
    # Curves stacked for one vectorised evaluation: pieces padded with +inf breaks.
    _columns: npt.NDArray[np.intp]
    _fill: FloatVector
    _low: FloatVector
    _high: FloatVector
    _below: FloatVector
    _above: FloatVector
    _breaks: FloatMatrix  # (curves, pieces)
    _coefficients: npt.NDArray[np.float64]  # (curves, pieces, 4)
    _missing_terms: FloatMatrix  # (curves, 2): [present, missing]

    @classmethod
    def from_parts(
        cls, intercept: float, curves: Sequence[Curve], weights: FloatVector
    ) -> AdditiveScorecard:
        pieces = max(curve.breaks.size for curve in curves) if curves else 1
        breaks = np.full((len(curves), pieces), np.inf)
        coefficients = np.zeros((len(curves), pieces, 4))
        for row, curve in enumerate(curves):
            breaks[row, : curve.breaks.size] = curve.breaks
            coefficients[row, : curve.breaks.size] = curve.coefficients
        return cls(
            intercept=intercept,
            curves=tuple(curves),
            weights=weights,
            _linear_columns=np.setdiff1d(
                np.arange(weights.size), [c.column for c in curves]
            ).astype(np.intp),
            _columns=np.array([c.column for c in curves], dtype=np.intp),
            _fill=np.array([c.fill for c in curves]),
            _low=np.array([c.low for c in curves]),
            _high=np.array([c.high for c in curves]),
            _below=np.array([c.below for c in curves]),
            _above=np.array([c.above for c in curves]),
            _breaks=breaks,
            _coefficients=coefficients,
            _missing_terms=np.array([[c.when_present, c.when_missing] for c in curves]),
        )

    def column_terms(self, features: FloatMatrix) -> FloatMatrix:
        """(rows, feature columns): each column's additive term in the log-odds."""
        terms = np.zeros(features.shape)
        linear = self._linear_columns
        terms[:, linear] = features[:, linear] * self.weights[linear]
        if not self.curves:
            return terms
        raw = features[:, self._columns]
        missing = np.isnan(raw)
        filled = np.where(missing, self._fill, raw)
        value = _pieces(
            filled,
            self._low,
            self._high,
            self._below,
            self._above,
            self._breaks,
            self._coefficients,
        )
        curve_rows = np.arange(len(self.curves))[np.newaxis, :]
        value += self._missing_terms[curve_rows, missing.astype(np.intp)]
        terms[:, self._columns] = value
        return terms

    def group_terms(self, features: FloatMatrix) -> FloatMatrix:
        """(rows, reason groups): a one-hot block's terms summed into its group."""
        terms = self.column_terms(features)
        grouped = np.zeros((features.shape[0], len(GROUP_NAMES)))
        np.add.at(grouped.T, _GROUP_OF_COLUMN, terms.T)
        return grouped

    def log_odds(self, group_terms: FloatMatrix) -> FloatVector:
        return np.asarray(self.intercept + group_terms.sum(axis=1), dtype=np.float64)


def _pieces(
    x: FloatMatrix,
    low: FloatVector,
    high: FloatVector,
    below: FloatVector,
    above: FloatVector,
    breaks: FloatMatrix,
    coefficients: npt.NDArray[np.float64],
) -> FloatMatrix:
    """(rows, curves): each curve at its column of x, the pieces found by comparison with every
    break at once (a few breaks per curve, so this beats a per-curve searchsorted)."""
    inside = np.clip(x, low, high)
    piece = np.sum(inside[:, :, np.newaxis] >= breaks[np.newaxis, :, 1:], axis=2)
    curve = np.arange(breaks.shape[0])[np.newaxis, :]
    dx = inside - breaks[curve, piece]
    c = coefficients[curve, piece]  # (rows, curves, 4)
    value = ((c[..., 0] * dx + c[..., 1]) * dx + c[..., 2]) * dx + c[..., 3]
    return np.where(x < low, below, np.where(x > high, above, value))


def _evaluate(curve: Curve, x: FloatVector) -> FloatVector:
    """One curve at some values (no imputation): for the terms of a 0/1 missing indicator."""
    return _pieces(
        x[:, np.newaxis],
        np.array([curve.low]),
        np.array([curve.high]),
        np.array([curve.below]),
        np.array([curve.above]),
        curve.breaks[np.newaxis, :],
        curve.coefficients[np.newaxis, :, :],
    )[:, 0]


def probability_of_default(log_odds: FloatVector) -> FloatVector:
    """The sigmoid, floored at PD_FLOOR (and so never exactly 0, nor NaN for a finite input)."""
    return np.maximum(np.asarray(expit(log_odds), dtype=np.float64), PD_FLOOR)


def _weighted_spline(spline: BSpline, weights: FloatVector) -> BSpline:
    """The weighted sum of a SplineTransformer's basis; it drops the last basis function
    (include_bias=False), whose weight is therefore zero."""
    c = np.zeros(spline.c.shape[1])
    c[: weights.size] = weights
    return BSpline(spline.t, c, spline.k, extrapolate=False)


def _spline_curve(
    column: int, fill: float, spline: BSpline, weights: FloatVector, degree: int
) -> Curve:
    """The curve as cubic pieces on its fitted range, and the transformer's own constants
    beyond it: below the range it keeps only the first `degree` basis functions at their value
    at `low`, above it only the last `degree` at `high` (its "constant" extrapolation)."""
    low, high = float(spline.t[degree]), float(spline.t[-degree - 1])
    full = np.zeros(spline.c.shape[1])
    full[: weights.size] = weights
    poly = PPoly.from_spline(_weighted_spline(spline, weights))
    starts = poly.x[:-1]
    inside = (starts >= low) & (starts < high) & (np.diff(poly.x) > 0)
    coefficients = np.zeros((int(inside.sum()), 4))
    coefficients[:, 4 - poly.c.shape[0] :] = poly.c[:, inside].T
    basis_low, basis_high = np.asarray(spline(low)), np.asarray(spline(high))
    return Curve(
        column=column,
        fill=fill,
        low=low,
        high=high,
        below=float(basis_low[:degree] @ full[:degree]),
        above=float(basis_high[-degree:] @ full[-degree:]),
        breaks=starts[inside],
        coefficients=coefficients,
        when_missing=0.0,
        when_present=0.0,
    )


def _impute(step: object) -> SimpleImputer:
    if not isinstance(step, SimpleImputer) or step.strategy != "median":
        raise ModelIntegrityError(f"cannot compile {type(step).__name__}: not a median imputer")
    return step


def _compile_spline_block(
    columns: Sequence[int], curves_pipeline: Pipeline, weights: FloatVector
) -> list[Curve]:
    imputer = _impute(curves_pipeline.steps[0][1])
    spline = curves_pipeline.steps[1][1]
    if not isinstance(spline, SplineTransformer) or spline.extrapolation != "constant":
        raise ModelIntegrityError("cannot compile the curves: not a constant-extrapolating spline")
    if spline.include_bias:
        raise ModelIntegrityError("cannot compile the curves: a spline with a bias column")
    per_input = spline.bsplines_[0].c.shape[1] - 1
    indicated = list(imputer.indicator_.features_) if getattr(imputer, "indicator_", None) else []
    if len(spline.bsplines_) != len(columns) + len(indicated):
        raise ModelIntegrityError("cannot compile the curves: unexpected spline inputs")
    degree = int(spline.degree)
    curves: list[Curve] = []
    for position, column in enumerate(columns):
        w = weights[position * per_input : (position + 1) * per_input]
        curve = _spline_curve(
            column, float(imputer.statistics_[position]), spline.bsplines_[position], w, degree
        )
        if position in indicated:
            slot = len(columns) + indicated.index(position)
            indicator = _spline_curve(
                column,
                0.0,
                spline.bsplines_[slot],
                weights[slot * per_input : (slot + 1) * per_input],
                degree,
            )
            present, missing = _evaluate(indicator, np.array([0.0, 1.0]))
            curve = replace(curve, when_present=float(present), when_missing=float(missing))
        curves.append(curve)
    return curves


def _linear_curve(column: int, fill: float, slope: float, missing: float) -> Curve:
    """A straight line as a one-piece 'curve' (no range): slope * x, plus the indicator."""
    return Curve(
        column=column,
        fill=fill,
        low=-np.inf,
        high=np.inf,
        below=0.0,
        above=0.0,
        breaks=np.array([0.0]),
        coefficients=np.array([[0.0, 0.0, slope, 0.0]]),
        when_missing=missing,
        when_present=0.0,
    )


def _compile_pipeline(pipeline: Pipeline) -> tuple[float, list[Curve], FloatVector]:
    """(intercept, curves, flag weights) of a supported additive pipeline, in raw log-odds."""
    model = pipeline.steps[-1][1]
    if not isinstance(model, LogisticRegression) or model.coef_.shape[0] != 1:
        raise ModelIntegrityError("cannot compile: the last step is not a binary logistic model")
    coef = np.asarray(model.coef_[0], dtype=np.float64)
    intercept = float(model.intercept_[0])
    weights = np.zeros(len(FEATURE_NAMES))
    first = pipeline.steps[0][1]
    if isinstance(first, ColumnTransformer):  # logistic_spline: curves + passthrough flags
        curves: list[Curve] = []
        if first.remainder != "drop":
            raise ModelIntegrityError("cannot compile a column transformer with a remainder")
        for name, spec, columns in first.transformers:  # the spec: fitting wraps "passthrough"
            if len(columns) == 0:  # a block with no columns is never fitted and adds nothing
                continue
            block = coef[first.output_indices_[name]]
            fitted = first.named_transformers_[name]
            if spec == "passthrough":
                weights[list(columns)] = block
            elif isinstance(fitted, Pipeline):
                curves += _compile_spline_block(list(columns), fitted, block)
            else:
                raise ModelIntegrityError(f"cannot compile column block {name!r}")
        return intercept, curves, weights
    if len(pipeline.steps) == 3 and isinstance(pipeline.steps[1][1], StandardScaler):
        imputer = _impute(first)  # logistic_l2: impute, standardise, weigh every column
        scaler = pipeline.steps[1][1]
        slopes = coef / scaler.scale_
        intercept -= float(np.sum(slopes * scaler.mean_))
        indicated = list(imputer.indicator_.features_) if imputer.indicator_ else []
        columns = len(FEATURE_NAMES)
        curves = [
            _linear_curve(
                column,
                float(imputer.statistics_[column]),
                float(slopes[column]),
                float(slopes[columns + indicated.index(column)]) if column in indicated else 0.0,
            )
            for column in range(columns)
        ]
        return intercept, curves, weights
    raise ModelIntegrityError(f"cannot compile a pipeline starting with {type(first).__name__}")


def compile_scorecard(estimator: object) -> AdditiveScorecard:
    """The additive scorecard of a fitted `CalibratedClassifierCV(sigmoid, ensemble=False)` over
    a supported pipeline, or of the bare pipeline (no calibration); anything else is refused."""
    slope, offset = 1.0, 0.0
    pipeline = estimator
    if isinstance(estimator, CalibratedClassifierCV):
        if len(estimator.calibrated_classifiers_) != 1:
            raise ModelIntegrityError("cannot compile an ensemble of calibrated models")
        calibrated = estimator.calibrated_classifiers_[0]
        [calibrator] = calibrated.calibrators
        if not hasattr(calibrator, "a_"):
            raise ModelIntegrityError("cannot compile a calibration that is not a sigmoid")
        # scikit-learn's sigmoid: P = 1 / (1 + exp(a * f + b)), so log-odds = -a * f - b.
        slope, offset = -float(calibrator.a_), -float(calibrator.b_)
        pipeline = calibrated.estimator
    if not isinstance(pipeline, Pipeline):
        raise ModelIntegrityError(f"cannot compile {type(pipeline).__name__}")
    intercept, curves, weights = _compile_pipeline(pipeline)
    scaled = [
        Curve(
            column=c.column,
            fill=c.fill,
            low=c.low,
            high=c.high,
            below=c.below * slope,
            above=c.above * slope,
            breaks=c.breaks,
            coefficients=c.coefficients * slope,
            when_missing=c.when_missing * slope,
            when_present=c.when_present * slope,
        )
        for c in curves
    ]
    return AdditiveScorecard.from_parts(slope * intercept + offset, scaled, weights * slope)


def verify_against(scorecard: AdditiveScorecard, estimator: object, probe: FloatMatrix) -> float:
    """Largest log-odds gap between the scorecard and scikit-learn on `probe`; raise above
    MAX_COMPILE_ERROR so a model whose compiled form is not exact is never served."""
    proba = np.asarray(estimator.predict_proba(probe)[:, 1], dtype=np.float64)  # type: ignore[attr-defined]  # untyped
    # Beyond +-SATURATED the sigmoid is within 7e-6 of 0 or 1 and scikit-learn's probability no
    # longer carries the log-odds to 1e-9; the PD floor sits far inside (log-odds -7.6).
    with np.errstate(divide="ignore"):
        expected = np.clip(np.log(proba) - np.log1p(-proba), -SATURATED, SATURATED)
    actual = np.clip(scorecard.log_odds(scorecard.group_terms(probe)), -SATURATED, SATURATED)
    gap = float(np.max(np.abs(actual - expected))) if probe.size else 0.0
    if not gap <= MAX_COMPILE_ERROR:
        raise ModelIntegrityError(
            f"the compiled scorecard differs from the fitted model by {gap:.3g} in log-odds"
        )
    return gap
