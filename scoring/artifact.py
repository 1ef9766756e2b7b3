"""Loading a trained model directory, and refusing one that cannot be trusted.

The artifact is a skops file, loaded with an explicit list of trusted types (never a bare pickle,
which runs arbitrary code on load). Before loading we check that the file is the one the card
describes (SHA-256), that this process runs the library versions it was built with (a pickled
scikit-learn model is only guaranteed to behave the same under the same version), and that the
card's feature list is the one `scoring.features` builds today. After loading, the fitted pipeline
is compiled into the additive scorecard that serves (`scoring.additive`), and the two must agree
on a probe of every feature's training deciles, the values beyond them and missing values, or the
model is refused: scikit-learn itself is never called while serving.
"""

from __future__ import annotations

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

from scoring.additive import (
    AdditiveScorecard,
    compile_scorecard,
    probability_of_default,
    verify_against,
)
from scoring.card import ModelCard
from scoring.exceptions import ModelIntegrityError
from scoring.features import FEATURE_NAMES
from scoring.training_range import TrainingRange

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
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


def library_versions() -> dict[str, str]:
    """The versions a card records and a loader must match (Python to major.minor)."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
    }


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A verified model: its card, the scorecard that serves it, and the reference applicant
    (with its own per-group terms) that reason codes are measured against."""

    card: ModelCard
    feature_names: tuple[str, ...]
    scorecard: AdditiveScorecard
    reference: npt.NDArray[np.float64]
    reference_terms: npt.NDArray[np.float64]
    training_range: TrainingRange

    @property
    def model_version(self) -> str:
        return self.card.model_version

    def predict_pd(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probability of default for each row of a feature matrix (floored, never 0)."""
        return probability_of_default(self.scorecard.log_odds(self.scorecard.group_terms(features)))


def verification_probe(
    card: ModelCard, reference: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rows that exercise every piece of every curve: the reference applicant with one feature
    at a time set to each training decile, beyond the training range, zero, or missing (where
    training saw it missing: the contract requires the others)."""
    rows = [reference]
    for column, name in enumerate(FEATURE_NAMES):
        seen = card.baseline["features"][name]
        cuts = seen["cuts"]
        if not cuts:
            continue
        low, high = min(cuts), max(cuts)
        span = max(high - low, 1.0)
        missing = (np.nan,) if seen["missing"] > 0 else ()
        for value in (*cuts, low - span, high + 10 * span, 0.0, *missing):
            row = reference.copy()
            row[column] = value
            rows.append(row)
    return np.vstack(rows)


def read_card(model_dir: Path) -> ModelCard:
    card_path = model_dir / CARD_FILE
    if not card_path.is_file():
        # Most often no model was ever trained here: say how to make one, not only what is absent.
        raise ModelIntegrityError(
            f"model card missing: {card_path}. No trained model in {model_dir}: run `make model`"
            " (trains the default into build/model) or `loan-scorer train --out DIR`, then set"
            " LOAN_SCORER_MODEL_DIR to that folder"
        )
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
    scorecard = compile_scorecard(estimator)
    gap = verify_against(scorecard, estimator, verification_probe(card, reference))
    logger.info(
        "model %s loaded from %s; compiled scorecard within %.1e log-odds of scikit-learn",
        card.model_version,
        model_dir,
        gap,
    )
    reference_terms = scorecard.group_terms(reference[np.newaxis, :])[0]
    return LoadedModel(
        card,
        FEATURE_NAMES,
        scorecard,
        reference,
        reference_terms,
        TrainingRange.from_card(card.training_range),
    )
