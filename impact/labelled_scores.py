"""The input every outcome metric checks first: 0/1 default labels beside PD scores.

Both the ranking metrics (`impact.discrimination`) and the calibration metrics
(`impact.calibration`) take array-likes, so malformed input must be refused one way for both:
here. Conventions: `labels` are 1 for a loan that went bad (defaulted) and 0 otherwise; `scores`
are probabilities of default, higher meaning riskier. Metrics that are undefined on the data (an
AUC with no defaults, a rate of an empty group) are NaN, never a made-up number.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatVector = npt.NDArray[np.float64]


def labelled_scores(
    labels: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[FloatVector, FloatVector]:
    """`labels` and `scores` as float vectors; a ValueError unless both are 1-D of one length and
    every label is 0 or 1."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape}, {s.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y, s


def has_both_outcomes(labels: FloatVector) -> bool:
    """Whether `labels` hold at least one default and one repaid loan (ranking needs both)."""
    return bool(0 < labels.sum() < labels.size)
