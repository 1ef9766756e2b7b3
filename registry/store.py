"""Where the registry lives, and an MLflow client that never reaches the network by itself.

By default an embedded SQLite store under `build/mlflow/` (no server, works offline, what
`make model` and the tests use); in production `MLFLOW_TRACKING_URI` names the team's tracking
server, MLflow's own variable, so data scientists' tooling and ours agree. MLflow's usage
telemetry is switched off before MLflow is imported: a credit scorer does not phone home.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mlflow import MlflowClient

MODEL_NAME: Final = "loan-scorer"
EXPERIMENT: Final = "loan-scorer-training"
CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
# Set by `promote` on the champion it replaces, so `rollback` knows where to go back to.
PREVIOUS_CHAMPION: Final = "previous-champion"
DEFAULT_HOME: Final = Path("build/mlflow")
# The card's model_version, on every registered version: the registry's number is the registry's,
# the card's version is the one every score names.
MODEL_VERSION_TAG: Final = "loan_scorer.model_version"
# The card's lowest held-out adverse-impact ratio, on every registered version: what promotion
# gates on, readable without downloading the card.
LOWEST_IMPACT_RATIO_TAG: Final = "loan_scorer.lowest_impact_ratio"
# Written by `promote` on the version it made champion: the gate's verdict, and the reason a
# person gave for accepting a fairness regression (the lineage of that decision).
FAIRNESS_GATE_TAG: Final = "loan_scorer.fairness_gate"
FAIRNESS_ACCEPTED_TAG: Final = "loan_scorer.fairness_regression_accepted"

_OFFLINE: Final = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def offline_mlflow() -> None:
    """Disable MLflow's telemetry; call before the first `import mlflow`."""
    for key, value in _OFFLINE.items():
        os.environ.setdefault(key, value)


def home() -> Path:
    """The local registry's directory (LOAN_SCORER_MLFLOW_HOME, else build/mlflow)."""
    return Path(os.environ.get("LOAN_SCORER_MLFLOW_HOME") or DEFAULT_HOME).resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the embedded SQLite store under `home()`."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    directory = home()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'mlflow.db'}"


def artifact_location() -> str | None:
    """Where a new experiment keeps artifacts: beside the embedded store, or (None) wherever
    the tracking server puts them."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (home() / "artifacts").as_uri()


def client() -> MlflowClient:
    """A client bound to `tracking_uri()` for tracking and registry alike. MLflow's global
    `set_tracking_uri` is never called: it writes MLFLOW_TRACKING_URI into the environment."""
    offline_mlflow()
    from mlflow import MlflowClient

    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)
