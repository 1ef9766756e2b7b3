"""Drift of the live stream: PSI of every feature and of the score over a sliding window.

The window keeps bin counts, never rows: a ring of slots, each the summed counts of one or more
consecutive batches, plus their running total. Adding a batch and evicting old slots are
vector additions over the bins (a few hundred integers), whatever the batch size, and memory is
bounded by the number of slots, not by traffic. Consecutive batches share a slot while together
they fit in `slot_observations` (a fiftieth of the window by default), so a quiet stream of
one-event batches keeps at most about a hundred arrays, not thousands.

Eviction is by whole slots: the oldest slot goes once the rest still cover `window`
observations, so a full window holds the most recent `window` observations plus at most one
slot's worth more.

Not thread-safe: the Kafka loop thread is the only caller (observe, then publish). The gauge it
sets is itself safe to scrape from the HTTP thread. The HTTP API's on-demand scores are not fed
here: drift is about the stream's population.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from prometheus_client import Gauge

from scoring.artifact import LoadedModel
from scoring.drift import BinCounts, BinLayout, card_layout

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 5_000
DEFAULT_MIN_OBSERVATIONS = 500
SLOTS_PER_WINDOW = 50
# PSI is recomputed over every bin at most this often: Prometheus scrapes every 15 s or so, and
# recomputing it after each of hundreds of small batches a second was CPU for nothing.
PUBLISH_INTERVAL_S = 1.0


class DriftMonitor:
    """PSI over the last `window` scored applications, reported only once `min_observations`
    have been seen (a handful of events after a restart is noise, not drift)."""

    def __init__(
        self,
        layout: BinLayout,
        *,
        window: int = DEFAULT_WINDOW,
        min_observations: int = DEFAULT_MIN_OBSERVATIONS,
        slot_observations: int | None = None,
        publish_interval_s: float = PUBLISH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < min_observations <= window:
            raise ValueError("need 0 < min_observations <= window")
        if slot_observations is None:
            slot_observations = max(1, window // SLOTS_PER_WINDOW)
        if not 0 < slot_observations <= window:
            raise ValueError("need 0 < slot_observations <= window")
        self.layout = layout
        self.window = window
        self.min_observations = min_observations
        self._slot_observations = slot_observations
        self._slots: deque[BinCounts] = deque()
        self._total = layout.empty()
        self._publish_interval_s = publish_interval_s
        self._clock = clock
        self._published_at: float | None = None
        self._unpublished = False  # batches added since the gauge was last set

    @classmethod
    def for_model(cls, model: LoadedModel) -> DriftMonitor:
        """Against the baseline in the model's card (features, then the score)."""
        return cls(card_layout(model.card, model.feature_names))

    @property
    def observations(self) -> int:
        """Applications currently in the window."""
        return self._total.observations

    def bin(self, features: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]) -> BinCounts:
        """Count a batch without recording it: lets a caller bin where the features are and
        `add` later, e.g. only once the batch's transaction has committed."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 1 or features.ndim != 2 or scores.shape[0] != features.shape[0]:
            raise ValueError(
                f"features {features.shape} and scores {scores.shape} must have the same rows"
            )
        return self.layout.count(np.column_stack((features, scores)))

    def add(self, batch: BinCounts) -> None:
        """Record a binned batch and evict the slots that fell out of the window."""
        if batch.observations == 0:
            return
        self._unpublished = True
        self._total = self._total + batch
        newest = self._slots[-1].observations if self._slots else self._slot_observations
        if newest + batch.observations <= self._slot_observations:
            self._slots[-1] = self._slots[-1] + batch
        else:
            self._slots.append(batch)
        while len(self._slots) > 1 and (
            self._total.observations - self._slots[0].observations >= self.window
        ):
            self._total = self._total - self._slots.popleft()

    def observe(self, features: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]) -> None:
        """Record the feature matrix (`scoring.features.FEATURE_NAMES` columns) and the
        probabilities of default of one batch of scored applications."""
        self.add(self.bin(features, scores))

    def psi(self) -> dict[str, float]:
        """PSI per feature name and for "score"; empty until `min_observations` are in the
        window, so a cold start reports nothing rather than a false alarm."""
        if self.observations < self.min_observations:
            return {}
        values = self.layout.psi(self._total)
        return dict(zip(self.layout.names, values.tolist(), strict=True))

    def publish(self, gauge: Gauge) -> bool:
        """Set `ScorerMetrics.population_stability_index`, one series per feature and "score",
        at most once per `publish_interval_s`; returns whether it did. Nothing to report (too
        few observations) does not count as a publication, so the first value is not held back."""
        now = self._clock()
        if self._published_at is not None and now - self._published_at < self._publish_interval_s:
            return False
        return self._set(gauge, now)

    def flush(self, gauge: Gauge) -> bool:
        """Publish now what was added since the last publication, interval or not: the loop
        calls it when the stream goes quiet, so the gauge never rests on a stale window (a burst
        shorter than the interval would otherwise leave the PSI of its first batches)."""
        return self._unpublished and self._set(gauge, self._clock())

    def _set(self, gauge: Gauge, now: float) -> bool:
        values = self.psi()
        if not values:
            return False
        for name, value in values.items():
            gauge.labels(name).set(value)
        self._published_at = now
        self._unpublished = False
        return True
