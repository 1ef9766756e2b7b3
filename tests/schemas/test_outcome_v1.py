"""`LoanOutcome` v1: strict like the other contracts, built in UTC, decoded with the same errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from schemas.decode import decode_loan_outcome
from schemas.encode import encode_loan_outcome
from schemas.errors import SchemaViolationError, UnsupportedVersionError
from schemas.outcome_v1 import LoanOutcome, loan_outcome_for


def _outcome(**overrides: object) -> LoanOutcome:
    arguments: dict[str, object] = {
        "defaulted": True,
        "source": "servicing",
        "observed_at": datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
    }
    arguments.update(overrides)
    return loan_outcome_for("app-000001", **arguments)  # type: ignore[arg-type]  # test overrides


def test_an_outcome_round_trips_through_bytes() -> None:
    event = _outcome()
    assert decode_loan_outcome(encode_loan_outcome(event)) == event
    document = orjson.loads(encode_loan_outcome(event))
    assert document["event_type"] == "loan_application.outcome_observed"
    assert document["schema_version"] == "1.0"
    assert document["observed_at"] == "2025-03-01T09:00:00Z"
    assert document["defaulted"] is True


def test_the_helper_stores_an_offset_time_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    event = _outcome(observed_at=datetime(2025, 3, 1, 10, 0, tzinfo=paris))
    assert event.observed_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert event.observed_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_defaulted_must_be_a_json_boolean(value: object) -> None:
    document = orjson.loads(encode_loan_outcome(_outcome()))
    document["defaulted"] = value
    with pytest.raises(SchemaViolationError, match="defaulted"):
        decode_loan_outcome(orjson.dumps(document))


def test_another_major_version_is_unsupported() -> None:
    document = orjson.loads(encode_loan_outcome(_outcome()))
    document["schema_version"] = "2.0"
    with pytest.raises(UnsupportedVersionError):
        decode_loan_outcome(orjson.dumps(document))


def test_a_missing_source_is_refused() -> None:
    document = orjson.loads(encode_loan_outcome(_outcome()))
    del document["source"]
    with pytest.raises(SchemaViolationError, match="source"):
        decode_loan_outcome(orjson.dumps(document))
