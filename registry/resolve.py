"""A model source is a directory (as always) or a registry URI such as
`models:/loan-scorer@champion`; either way the scorer gets a local directory and loads it with
`scoring.artifact.load_model`, which verifies the artifact against its card and the compiled
additive scorecard against scikit-learn before anything is served. A registry is a place to find
a model, never a reason to trust one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Final

from registry.store import MODEL_VERSION_TAG, client, home, tracking_uri
from scoring.artifact import LoadedModel, load_model

logger = logging.getLogger(__name__)

REGISTRY_SCHEME: Final = "models:/"


def is_registry_uri(source: str) -> bool:
    return source.startswith(REGISTRY_SCHEME)


def _parse(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/NAME@ALIAS` or `models:/NAME/VERSION` -> (name, alias, version)."""
    rest = uri[len(REGISTRY_SCHEME) :]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias and "/" not in name:
            return name, alias, None
    elif rest.count("/") == 1:
        name, version = rest.split("/")
        if name and version.isdigit():
            return name, None, version
    raise ValueError(f"not a model registry URI: {uri!r} (models:/NAME@ALIAS or models:/NAME/N)")


def fetch_model_dir(uri: str, cache: Path | None = None) -> Path:
    """Download the registered version `uri` names into a directory of its own (one per
    version, reused when already complete) and return it."""
    name, alias, version = _parse(uri)
    registry = client()
    found = (
        registry.get_model_version_by_alias(name, alias)
        if alias
        else registry.get_model_version(name, str(version))
    )
    target = (cache or home() / "downloads") / name / str(found.version)
    if not (target / "model_card.json").is_file():
        from mlflow.artifacts import download_artifacts

        source = registry.get_model_version_download_uri(name, str(found.version))
        staging = target.with_name(f"{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        local = download_artifacts(
            artifact_uri=source, dst_path=str(staging), tracking_uri=tracking_uri()
        )
        shutil.rmtree(target, ignore_errors=True)
        Path(local).rename(target)  # complete or absent: a half download is never served
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "%s is %s version %s (%s), in %s",
        uri,
        name,
        found.version,
        found.tags.get(MODEL_VERSION_TAG, "?"),
        target,
    )
    return target


def model_dir_for(source: str) -> Path:
    """The local directory of a model source: a registry URI is fetched, a path is itself."""
    return fetch_model_dir(source) if is_registry_uri(source) else Path(source)


def load_model_from(source: str) -> LoadedModel:
    """Load and verify a model from a directory or a registry URI."""
    return load_model(model_dir_for(source))
