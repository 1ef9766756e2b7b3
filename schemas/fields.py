"""Field types shared by the v1 contracts.

Validation is strict on purpose: a credit decision must never rest on a number that arrived as a
string, a NaN, or a timestamp whose time zone was guessed. Defining the types once keeps the input
and the output contract in step.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

# RFC 3339 `date-time` (what JSON Schema's "format": "date-time" means). Pydantic alone also takes
# "2024-05-01 12:00", "+0200" and "_" separators, which other consumers of the topic would reject.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_UTC = timedelta(0)


def _require_rfc3339(value: object) -> object:
    # This check is the strictness: it lets through only datetimes and RFC 3339 strings, so the
    # lax parser behind it never sees the numbers and dates lax mode would otherwise accept.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    if _RFC3339.fullmatch(value) is None:
        raise PydanticCustomError(
            "rfc3339_timestamp",
            "Input should be an RFC 3339 timestamp with a time-zone offset, "
            "e.g. 2024-05-01T12:00:00+02:00",
        )
    return value


def _require_utc(value: datetime) -> datetime:
    if value.utcoffset() != _UTC:
        raise PydanticCustomError("utc_timestamp", "Input should be in UTC (offset Z or +00:00)")
    return value


class Contract(BaseModel):
    """Base of every contract model and of the objects nested in one."""

    # Unknown fields are ignored, not rejected: a v1.x producer may add optional fields without
    # breaking v1 consumers (schemas/README.md). Everything known is validated strictly.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


# The largest finite double: every number is read as one (a literal rounds to the nearest), and one
# beyond it reads as infinity, which is refused. `le` changes no verdict; it puts the range in the
# published schema, where a validator would otherwise accept 1e400.
FLOAT_MAX = sys.float_info.max
NonNegative = Annotated[float, Field(ge=0, le=FLOAT_MAX, allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, le=FLOAT_MAX, allow_inf_nan=False, strict=True)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
ApplicationId = Annotated[str, Field(min_length=1, max_length=64)]
# Any 1.x: minor versions only add optional fields, so a v1 reader accepts all of them.
SchemaVersion1 = Annotated[str, Field(pattern=r"^1\.(0|[1-9][0-9]{0,2})$")]
# Lax only so that a checked string can be parsed after the before-validator (strict parsing of a
# str happens only on the JSON path, which a before-validator leaves).
Timestamp = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_require_rfc3339)]
UtcTimestamp = Annotated[Timestamp, AfterValidator(_require_utc)]
