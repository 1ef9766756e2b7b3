"""Loading a trained model directory, and refusing one that cannot be trusted.

The artifact is a skops file, loaded with an explicit list of trusted types (never a bare pickle,
which runs arbitrary code on load). Before loading we check that the file is the one the card
describes (SHA-256), that this process runs the library versions it was built with (a pickled
scikit-learn model is only guaranteed to behave the same under the same version), and that the
card's feature list is the one `scoring.features` builds today.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import sklearn
import skops
import skops.io as sio
from pydantic import ValidationError
from threadpoolctl import ThreadpoolController

from scoring.card import ModelCard
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

ARTIFACT_FILE: Final = "model.skops"
CARD_FILE: Final = "model_card.json"

# Types skops must be told to trust beyond its own safe defaults. Training fails if the artifact
# needs anything else, so a new estimator is a reviewed change to this list.
TRUSTED_TYPES: Final[tuple[str, ...]] = (
    "numpy.dtype",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    "scipy.interpolate._bsplines.BSpline",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.utils._bunch.Bunch",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def library_versions() -> dict[str, str]:
    """The versions a card records and a loader must match (Python to major.minor)."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
    }


@functools.cache
def _thread_pools() -> ThreadpoolController:
    """Inspecting the loaded native libraries is slow; do it once per process."""
    return ThreadpoolController()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A verified model: the fitted estimator, its card, and the reference applicant for reasons."""

    estimator: object
    card: ModelCard
    feature_names: tuple[str, ...]
    reference: npt.NDArray[np.float64]

    @property
    def model_version(self) -> str:
        return self.card.model_version

    def predict_pd(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probability of default (class 1) for each row of a feature matrix.

        OpenMP is held to one thread: the boosted trees' workers spin-wait, and on a busy node
        (the consumer beside other pods) that made a 1,000-row batch 100x slower.
        """
        with _thread_pools().limit(limits=1, user_api="openmp"):
            proba = self.estimator.predict_proba(features)  # type: ignore[attr-defined]  # untyped
        return np.asarray(proba[:, 1], dtype=np.float64)


def read_card(model_dir: Path) -> ModelCard:
    card_path = model_dir / CARD_FILE
    if not card_path.is_file():
        raise ModelIntegrityError(f"model card missing: {card_path}")
    try:
        return ModelCard.model_validate_json(card_path.read_bytes())
    except ValidationError as error:
        raise ModelIntegrityError(f"model card {card_path} is not valid: {error}") from error


def verify(model_dir: Path, card: ModelCard) -> Path:
    """Check the artifact against its card; return its path or raise ModelIntegrityError."""
    artifact = model_dir / card.artifact.file
    if not artifact.is_file():
        raise ModelIntegrityError(f"model artifact missing: {artifact}")
    actual = sha256_of(artifact)
    if actual != card.artifact.sha256:
        raise ModelIntegrityError(
            f"model artifact {artifact} has SHA-256 {actual}, its card says {card.artifact.sha256}"
        )
    running = library_versions()
    mismatched = {
        name: (card.library_versions.get(name), version)
        for name, version in running.items()
        if card.library_versions.get(name) != version
    }
    if mismatched:
        detail = ", ".join(f"{n} card={c} running={r}" for n, (c, r) in mismatched.items())
        raise ModelIntegrityError(f"model {card.model_version} library versions differ: {detail}")
    if tuple(card.feature_names) != FEATURE_NAMES:
        raise ModelIntegrityError(
            f"model {card.model_version} was trained on other features than scoring.features builds"
        )
    return artifact


def load_model(model_dir: Path) -> LoadedModel:
    """Load a directory written by `training.train.train_model`, or raise ModelIntegrityError."""
    card = read_card(model_dir)
    artifact = verify(model_dir, card)
    untrusted = set(sio.get_untrusted_types(file=artifact)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ModelIntegrityError(
            f"model artifact {artifact} needs untrusted types: {sorted(untrusted)}"
        )
    try:
        estimator = sio.load(artifact, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # skops raises many types for a corrupt archive
        raise ModelIntegrityError(f"model artifact {artifact} cannot be loaded: {error}") from error
    reference = np.array(
        [card.reference_applicant[name] for name in FEATURE_NAMES], dtype=np.float64
    )
    logger.info("model %s loaded from %s", card.model_version, model_dir)
    return LoadedModel(estimator, card, FEATURE_NAMES, reference)
