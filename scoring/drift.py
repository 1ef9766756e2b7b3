"""Population stability index (PSI) of live inputs and scores against the model card's baseline.

PSI compares the share of observations in each baseline bin with the share the model was trained
on: ``sum((actual - expected) * ln(actual / expected))`` over the bins, the missing share being
one more bin (a feature that starts arriving empty is drift too). The usual reading in credit
scoring is < 0.1 stable, 0.1-0.25 worth a look, > 0.25 a shift the model was not trained for.

A bin with no observations makes the logarithm infinite, so both shares are floored at
`PSI_EPSILON` (1e-4, the common choice: far below the 10% a decile holds, so it only matters when
a bin is truly empty). A bin empty on both sides then contributes exactly 0; one empty on one side
contributes a large but finite term, which is the alarm we want.

Binning is vectorised for a whole batch: every column's bins (then its missing bin) sit side by
side in one flat count vector, so one `np.searchsorted` per column and one `np.bincount` count a
batch of any size, with no Python per row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from scoring.card import ModelCard
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]

PSI_EPSILON: Final = 1e-4
SCORE: Final = "score"  # the gauge's label value for the probability of default


def _psi_terms(expected: FloatArray, actual: FloatArray) -> FloatArray:
    expected = np.maximum(expected, PSI_EPSILON)
    actual = np.maximum(actual, PSI_EPSILON)
    return np.asarray((actual - expected) * np.log(actual / expected), dtype=np.float64)


def population_stability_index(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of one distribution from its shares (missing share included as a bin).

    The reference formula the vectorised `BinLayout.psi` must agree with; tests and ad hoc
    analysis use it directly.
    """
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected shares but {len(actual)} actual shares")
    return float(
        _psi_terms(
            np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
        ).sum()
    )


@dataclass(frozen=True, slots=True)
class BinCounts:
    """How many observations of a batch (or a window) fell in each bin of a `BinLayout`.

    Counts rather than shares, so batches add up exactly and a window can subtract the batches
    it evicts.
    """

    counts: CountArray
    observations: int

    def __add__(self, other: BinCounts) -> BinCounts:
        return BinCounts(self.counts + other.counts, self.observations + other.observations)

    def __sub__(self, other: BinCounts) -> BinCounts:
        return BinCounts(self.counts - other.counts, self.observations - other.observations)


class BinLayout:
    """The baseline bins of several named columns, flattened so one batch is counted at once.

    Column j owns the slice ``offsets[j] : offsets[j] + len(cuts[j]) + 2`` of the flat vector:
    ``len(cuts[j]) + 1`` value bins (as in `scoring.baseline.bin_shares`: bin 0 is x <= c1, the
    last is x > ck) and then its missing bin.
    """

    def __init__(self, distributions: Mapping[str, Mapping[str, Any]]) -> None:
        names: list[str] = []
        cuts: list[FloatArray] = []
        expected: list[float] = []
        offsets: list[int] = []
        for name, distribution in distributions.items():
            column_cuts = np.asarray(distribution["cuts"], dtype=np.float64)
            proportions = [float(p) for p in distribution["proportions"]]
            missing = float(distribution["missing"])
            if len(proportions) != column_cuts.size + 1:
                raise ModelIntegrityError(
                    f"baseline of {name!r}: {column_cuts.size} cuts need "
                    f"{column_cuts.size + 1} proportions, not {len(proportions)}"
                )
            if np.any(np.diff(column_cuts) <= 0):
                raise ModelIntegrityError(f"baseline of {name!r}: cuts are not increasing")
            if not math.isclose(sum(proportions) + missing, 1.0, abs_tol=1e-6):
                raise ModelIntegrityError(f"baseline of {name!r}: shares do not sum to 1")
            names.append(name)
            cuts.append(column_cuts)
            offsets.append(len(expected))
            expected.extend([*proportions, missing])
        self.names: tuple[str, ...] = tuple(names)
        self.cuts: tuple[FloatArray, ...] = tuple(cuts)
        self.offsets: npt.NDArray[np.intp] = np.asarray(offsets, dtype=np.intp)
        self.expected: FloatArray = np.asarray(expected, dtype=np.float64)
        # Position of each column's missing bin, relative to the column's first bin.
        self._missing_slot: npt.NDArray[np.intp] = np.asarray(
            [c.size + 1 for c in cuts], dtype=np.intp
        )

    @property
    def size(self) -> int:
        """Length of the flat count vector (all bins of all columns, missing bins included)."""
        return int(self.expected.size)

    def empty(self) -> BinCounts:
        return BinCounts(np.zeros(self.size, dtype=np.int64), 0)

    def count(self, values: FloatArray) -> BinCounts:
        """Bin a matrix whose columns are `names`, in that order; NaN counts as missing."""
        if values.ndim != 2 or values.shape[1] != len(self.names):
            raise ValueError(f"expected a (rows, {len(self.names)}) matrix, got {values.shape}")
        # Column-major so each searchsorted reads contiguous memory (a third faster on 500 rows).
        columns = np.ascontiguousarray(values.T)
        slots = np.empty(columns.shape, dtype=np.intp)
        for column, column_cuts in enumerate(self.cuts):
            # side="left" puts x == c_i in bin i-1, the baseline's "c_(i-1) < x <= c_i".
            slots[column] = np.searchsorted(column_cuts, columns[column], side="left")
        slots = np.where(np.isnan(columns), self._missing_slot[:, None], slots)
        slots += self.offsets[:, None]
        counts = np.bincount(slots.ravel(), minlength=self.size).astype(np.int64, copy=False)
        return BinCounts(counts, int(values.shape[0]))

    def psi(self, binned: BinCounts) -> FloatArray:
        """PSI of every column at once (NaN for all of them when nothing has been observed)."""
        if binned.observations <= 0:
            return np.full(len(self.names), np.nan)
        actual = binned.counts / binned.observations
        return np.asarray(
            np.add.reduceat(_psi_terms(self.expected, actual), self.offsets), dtype=np.float64
        )


def card_layout(card: ModelCard, feature_names: Sequence[str] = FEATURE_NAMES) -> BinLayout:
    """The layout for a feature matrix with the score appended as its last column.

    Raises `ModelIntegrityError` if the card has no baseline for a feature the model uses, so a
    card written before baselines existed fails at start-up, not on the first batch.
    """
    baseline = card.baseline
    features = baseline.get("features", {})
    absent = [name for name in feature_names if name not in features]
    if SCORE not in baseline:
        absent.append(SCORE)
    if absent:
        raise ModelIntegrityError(f"the model card has no drift baseline for {absent}")
    return BinLayout({**{name: features[name] for name in feature_names}, SCORE: baseline[SCORE]})
