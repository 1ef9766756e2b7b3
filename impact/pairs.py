"""The joined-pair frame: one row per (application_id, model_version, role) joined to its outcome.

It is the one table every impact measurement reads: the outcomes joiner (`loan-scorer outcomes`)
writes it, `loan-scorer report` and the impact metrics (`impact.performance` and the modules it
gathers) read it, and a test fixture builds it from the real data set. Fixing its columns and
dtypes here keeps the stream side and the offline side from drifting apart: `validate_pairs`
refuses a frame that does not match, naming the column.

Group columns are bounded bands (`age_band`, `marital_status`), never identities, so fairness
metrics can be exported as Prometheus labels and printed in a report without personal data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

import pandas as pd

from schemas.application_v1 import MaritalStatus

# Defined with the fairness measures; re-exported here, where the joiner and the report look.
from scoring.fairness import AGE_BANDS as AGE_BANDS
from scoring.fairness import age_band as age_band
from scoring.policy import DECISIONS, GRADES

logger = logging.getLogger(__name__)

Role = Literal["champion", "canary", "shadow"]
ROLES: Final[tuple[Role, ...]] = ("champion", "canary", "shadow")
# Roles whose decision the CRM acts on; a shadow score is recorded and never acted on.
ACTING_ROLES: Final[tuple[Role, ...]] = ("champion", "canary")

MARITAL_STATUSES: Final[tuple[str, ...]] = tuple(member.value for member in MaritalStatus)
KNOCK_OUT_PREFIX: Final = "KO"

ColumnKind = Literal["string", "float", "bool", "timestamp"]

# Column -> kind. Order is the canonical column order of a written frame.
PAIR_COLUMNS: Final[Mapping[str, ColumnKind]] = {
    "application_id": "string",
    "model_version": "string",
    "role": "string",  # one of ROLES
    "policy_version": "string",
    "pd": "float",  # probability of default in (0, 1]
    "grade": "string",  # one of scoring.policy.GRADES
    "decision": "string",  # one of scoring.policy.DECISIONS
    # Knock-out reason codes of the score (LoanScored reasons whose code starts with "KO"),
    # space-separated, "" when none; lets a what-if re-apply them under another policy.
    "knock_outs": "string",
    "defaulted": "bool",  # the outcome: True when the loan went bad
    "exposure": "float",  # the loan amount, in the contract's unit, >= 0
    "age_band": "string",  # one of AGE_BANDS
    "marital_status": "string",  # one of MARITAL_STATUSES
    "scored_at": "timestamp",  # UTC
    "observed_at": "timestamp",  # UTC, when the outcome was observed
}
PAIR_KEY: Final = ("application_id", "model_version", "role")

_DTYPES: Final[Mapping[ColumnKind, str]] = {
    "string": "object",
    "float": "float64",
    "bool": "bool",
    "timestamp": "datetime64[ns, UTC]",
}
_DOMAINS: Final[Mapping[str, tuple[str, ...]]] = {
    "role": ROLES,
    "grade": GRADES,
    "decision": DECISIONS,
    "age_band": AGE_BANDS,
    "marital_status": MARITAL_STATUSES,
}


class PairFrameError(ValueError):
    """A frame is not a valid joined-pair frame; the message names the column and the rule."""


def _check_dtype(frame: pd.DataFrame, column: str, kind: ColumnKind) -> None:
    series = frame[column]
    if kind == "string":
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            raise PairFrameError(f"column {column} must hold strings, has dtype {series.dtype}")
        if not series.map(lambda value: isinstance(value, str)).all():
            raise PairFrameError(f"column {column} must hold only strings (no nulls)")
    elif str(series.dtype) != _DTYPES[kind]:
        raise PairFrameError(f"column {column} must have dtype {_DTYPES[kind]}, has {series.dtype}")


def validate_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a joined-pair frame and return it unchanged; raise `PairFrameError` on the first
    problem. Extra columns are allowed (a store may keep more), missing ones are not."""
    missing = [column for column in PAIR_COLUMNS if column not in frame.columns]
    if missing:
        raise PairFrameError(f"missing columns: {', '.join(missing)}")
    for column, kind in PAIR_COLUMNS.items():
        _check_dtype(frame, column, kind)
    for column, domain in _DOMAINS.items():
        unknown = sorted(set(frame[column]) - set(domain))
        if unknown:
            raise PairFrameError(f"column {column} has values outside {domain}: {unknown[:5]}")
    probabilities = frame["pd"]
    if not ((probabilities > 0) & (probabilities <= 1)).all():
        raise PairFrameError("column pd must lie in (0, 1]")
    exposure = frame["exposure"]
    if not (exposure.map(math.isfinite).all() and (exposure >= 0).all()):
        raise PairFrameError("column exposure must be finite and >= 0")
    if frame["scored_at"].isna().any() or frame["observed_at"].isna().any():
        raise PairFrameError("columns scored_at and observed_at must not be null")
    bad_codes = [
        codes
        for codes in frame["knock_outs"]
        if any(not code.startswith(KNOCK_OUT_PREFIX) for code in codes.split())
    ]
    if bad_codes:
        raise PairFrameError(f"column knock_outs holds non knock-out codes: {bad_codes[:3]}")
    duplicated = frame.duplicated(list(PAIR_KEY))
    if duplicated.any():
        raise PairFrameError(
            f"{int(duplicated.sum())} rows repeat a key {PAIR_KEY}: a pair must be joined once"
        )
    return frame


def coerce_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the contract's dtypes, as read back from a file (CSV has no dtypes, and
    an empty `knock_outs` cell reads as NaN), then validated. Only known columns are kept."""
    missing = [column for column in PAIR_COLUMNS if column not in frame.columns]
    if missing:
        raise PairFrameError(f"missing columns: {', '.join(missing)}")
    out = pd.DataFrame(index=range(len(frame)))
    for column, kind in PAIR_COLUMNS.items():
        series = frame[column].reset_index(drop=True)
        if kind == "string":
            series = series.fillna("") if column == "knock_outs" else series
            out[column] = series.map(lambda value: value if isinstance(value, str) else str(value))
        elif kind == "float":
            out[column] = pd.to_numeric(series, errors="raise").astype("float64")
        elif kind == "bool":
            out[column] = _as_bool(series, column)
        else:
            out[column] = pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")
    return validate_pairs(out)


_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})


def _as_bool(series: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("bool")
    text = series.map(lambda value: str(value).strip().lower())
    unknown = sorted(set(text) - _TRUE - _FALSE)
    if unknown:
        raise PairFrameError(f"column {column} must be true/false, has {unknown[:5]}")
    return text.isin(_TRUE).astype("bool")


def empty_pairs() -> pd.DataFrame:
    """A valid frame with no rows (what the joiner holds before any outcome arrives)."""
    return pd.DataFrame(
        {
            column: pd.Series(dtype=_DTYPES[kind] if kind != "timestamp" else "datetime64[ns, UTC]")
            for column, kind in PAIR_COLUMNS.items()
        }
    )


def read_pairs(path: Path) -> pd.DataFrame:
    """A joined-pair frame from a `.csv` or `.parquet` file (Parquet needs pyarrow installed)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = pd.read_csv(path, dtype={"application_id": str, "knock_outs": str})
    elif suffix == ".parquet":
        raw = pd.read_parquet(path)
    else:
        raise PairFrameError(f"{path}: pairs are read from .csv or .parquet, not {suffix!r}")
    return coerce_pairs(raw)


def write_pairs(frame: pd.DataFrame, path: Path) -> Path:
    """Write a validated frame as `.csv` or `.parquet`, columns in the contract's order."""
    validate_pairs(frame)
    ordered = frame[list(PAIR_COLUMNS)]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        ordered.to_csv(path, index=False)
    elif suffix == ".parquet":
        ordered.to_parquet(path, index=False)
    else:
        raise PairFrameError(f"{path}: pairs are written as .csv or .parquet, not {suffix!r}")
    return path
