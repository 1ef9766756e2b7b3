"""Reading the settings from the environment and an env file, refusing names no setting reads."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from consumer.config.settings import ENV_PREFIX, Settings


class UnknownSettingError(ValueError):
    """`LOAN_SCORER_*` variables that no setting reads: a typo would otherwise be ignored."""

    def __init__(self, unknown: dict[str, str | None]) -> None:
        self.unknown = unknown
        lines = [
            f"  {name}: unknown" + (f"; did you mean {close}?" if close else "")
            for name, close in unknown.items()
        ]
        super().__init__("unknown configuration variables:\n" + "\n".join(lines))


def known_variables() -> frozenset[str]:
    """Every variable name a setting reads."""
    return frozenset(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)


def unknown_variables(names: Iterable[str]) -> dict[str, str | None]:
    """Each `LOAN_SCORER_*` name no setting reads, with the closest valid name (or None)."""
    known = known_variables()
    # Compared without the shared prefix, which would make every name look close to every other.
    suffixes = sorted(name.removeprefix(ENV_PREFIX) for name in known)
    unknown: dict[str, str | None] = {}
    for name in sorted(names):
        upper = name.upper()  # pydantic-settings matches names case-insensitively
        if upper.startswith(ENV_PREFIX) and upper not in known:
            suffix = upper.removeprefix(ENV_PREFIX)
            close = difflib.get_close_matches(suffix, suffixes, n=1, cutoff=0.6)
            unknown[name] = ENV_PREFIX + close[0] if close else None
    return unknown


# Settings that a package below `consumer` reads from the process environment itself, having no
# Settings of its own (registry/store.py reads LOAN_SCORER_MLFLOW_HOME, impact/cli.py
# LOAN_SCORER_MODEL_DIR). A value given only in the env file would never reach them, so
# `load_settings` exports these (tests/consumer/test_settings.py finds any new such reader).
EXPORTED_TO_ENVIRONMENT: tuple[str, ...] = ("mlflow_home", "model_dir")


def export_settings(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """Write the settings other packages read from the environment into it; those the
    environment already holds win, as they do in `Settings` itself."""
    for name in EXPORTED_TO_ENVIRONMENT:
        if name in settings.model_fields_set:
            environ.setdefault(f"{ENV_PREFIX}{name.upper()}", str(getattr(settings, name)))


def _env_file_names(env_file: Path) -> list[str]:
    from dotenv import dotenv_values  # pydantic-settings' own reader of env files

    return list(dotenv_values(env_file))


def load_settings(env_file: Path | None = None) -> Settings:
    """Read the environment (and the env file if given; the environment wins), and export the
    settings read elsewhere from the environment (`EXPORTED_TO_ENVIRONMENT`).

    Refuses any `LOAN_SCORER_*` variable that no setting reads, naming the closest valid one:
    a misspelt `LOAN_SCORER_KAFKA_BOOTSTRAP_SERVER` must stop the start, not fall back to the
    default broker.
    """
    if env_file is not None and not env_file.is_file():
        raise FileNotFoundError(f"settings file not found: {env_file}")
    names = list(os.environ) + (_env_file_names(env_file) if env_file is not None else [])
    unknown = unknown_variables(names)
    if unknown:
        raise UnknownSettingError(unknown)
    settings = Settings(_env_file=env_file)
    export_settings(settings, os.environ)
    return settings
