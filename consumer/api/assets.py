"""The loaded model and policy, handed to the HTTP threads once the service has loaded them.

The API starts before the model (probes must answer during start-up), so the routes find this
slot empty at first and answer 503 until the service fills it.
"""

from __future__ import annotations

import threading
from typing import Final, Protocol

from consumer.api.problems import ApiError
from scoring.artifact import LoadedModel
from scoring.policy import Policy

RETRY_AFTER_S: Final = 5


class ModelAndPolicy(Protocol):
    """What scoring needs; `runtime.service.ScoringAssets` is one (a protocol avoids a cycle)."""

    @property
    def model(self) -> LoadedModel: ...

    @property
    def policy(self) -> Policy: ...


class AssetsSlot:
    """Written once by the service's main thread, read by the HTTP threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assets: ModelAndPolicy | None = None

    def set(self, assets: ModelAndPolicy) -> None:
        with self._lock:
            self._assets = assets

    def get(self) -> ModelAndPolicy | None:
        with self._lock:
            return self._assets

    def require(self) -> ModelAndPolicy:
        """The assets, or the 503 a client should retry after."""
        assets = self.get()
        if assets is None:
            raise ApiError(
                503,
                "model_not_loaded",
                "The model is still loading; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return assets
