"""`LoanApplicationSubmitted` v1: the input contract (the applications topic, key = application_id).

The field names are the contract other teams build against; see schemas/README.md for the
compatibility policy. Decode records with `schemas.decode.decode_application`, which adds the size
limit and maps failures onto dead-letter reasons.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from schemas.fields import (
    ApplicationId,
    Contract,
    NonNegative,
    Positive,
    SchemaVersion1,
    Timestamp,
)

EVENT_TYPE = "loan_application.submitted"
SCHEMA_MAJOR = 1

# The published JSON Schema must reject what the decoder rejects (tests/schemas/
# test_schema_differential.py). These patterns say in the schema what the decoder checks in code.
# RFC 3339 date-time with an offset, the ranges of each part included; `format: date-time` alone
# is not checked by every validator (Python's jsonschema skips it without rfc3339-validator).
# Years 0001-9999 (what Python's datetime holds; the pattern says so because year 0000 is a valid
# RFC 3339 year that the decoder cannot represent).
RFC3339_PATTERN = (
    r"^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
    r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# A UUID in its canonical 8-4-4-4-12 form, what JSON Schema's `format: uuid` means.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_CANONICAL_UUID = re.compile(UUID_PATTERN, re.ASCII)


def _whole_number(value: object) -> object:
    # JSON has one number type, and JSON Schema's "integer" is any number with a whole value, so
    # `36.0` is an integer to every schema validator; the decoder agrees (36.5 stays invalid).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_uuid(value: object) -> object:
    # pydantic alone also takes 32 bare hex digits, braces and `urn:uuid:`; the schema does not.
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is None:
        raise PydanticCustomError(
            "uuid_parsing", "Input should be a UUID in the 8-4-4-4-12 hexadecimal form"
        )
    return value


# Annotated after the constraints, so it runs before them: `Field(ge=...)` then checks an int.
WholeNumber = BeforeValidator(_whole_number)


class MaritalStatus(StrEnum):
    SINGLE = "single"
    MARRIED = "married"
    WIDOW = "widow"
    SEPARATED = "separated"
    DIVORCED = "divorced"


class HomeOwnership(StrEnum):
    RENT = "rent"
    OWNER = "owner"
    PARENTS = "parents"
    PRIVATE = "private"
    OTHER = "other"


class JobType(StrEnum):
    FIXED = "fixed"
    FREELANCE = "freelance"
    PARTIME = "partime"  # sic: the spelling of the credit_data set, kept so values map 1:1
    OTHERS = "others"


class Applicant(Contract):
    age: Annotated[
        int,
        Field(ge=18, le=100, strict=True, description="Age in whole years. Training data: 18-68."),
        WholeNumber,
    ]
    marital_status: MaritalStatus
    home_ownership: HomeOwnership
    job_type: JobType
    job_seniority_years: Annotated[
        NonNegative, Field(description="Years in the current job. Training data: 0-48.")
    ]
    has_prior_records: Annotated[
        bool, Field(description="Whether the applicant has prior records (credit_data `Records`).")
    ]


class Finances(Contract):
    """Money amounts are in the loan's currency, in the unit of the training data (credit_data
    states no currency or scale: see schemas/README.md, "Units and ranges"); null means the
    applicant did not say. A value outside the training range is scored but flagged in the
    score's `out_of_range_fields`, and the default policy sends it to review."""

    monthly_income: Annotated[
        NonNegative | None,
        Field(
            description="Net income per month. Training data: 6-959, median 125. Null: not stated."
        ),
    ]
    monthly_expenses: Annotated[
        NonNegative,
        Field(description="Living expenses per month. Training data: 35-180, median 51."),
    ]
    assets: Annotated[
        NonNegative | None,
        Field(
            description="Value of what the applicant owns, a stock (not per month). Training "
            "data: 0-300,000, median 3,000. Null: not stated."
        ),
    ]
    debt: Annotated[
        NonNegative | None,
        Field(
            description="Outstanding debt, a balance (not a monthly payment). Training data: "
            "0-30,000, median 0. Null: not stated."
        ),
    ]


class Loan(Contract):
    amount: Annotated[
        Positive, Field(description="Amount requested. Training data: 100-5,000, median 1,000.")
    ]
    term_months: Annotated[
        int,
        Field(ge=1, le=120, strict=True, description="Months. Training data: 6-72."),
        WholeNumber,
    ]
    purchase_price: Annotated[
        Positive,
        Field(
            description="Price of what the loan pays for. Training data: 105-11,140, median 1,400."
        ),
    ]


class LoanApplicationSubmitted(Contract):
    """A loan application as submitted, v1.x: the only input a credit decision may rest on."""

    event_id: Annotated[
        UUID,
        BeforeValidator(_canonical_uuid),
        Field(
            description="Unique per event; consumers deduplicate on it.",
            json_schema_extra={"pattern": UUID_PATTERN},
        ),
    ]
    event_type: Literal["loan_application.submitted"]
    schema_version: Annotated[
        SchemaVersion1, Field(description="`1.<minor>`; a v1 consumer accepts every minor.")
    ]
    occurred_at: Annotated[
        Timestamp,
        Field(
            description="RFC 3339 with an offset.", json_schema_extra={"pattern": RFC3339_PATTERN}
        ),
    ]
    application_id: Annotated[
        ApplicationId, Field(description="Stable id of the application; also the record key.")
    ]
    applicant: Applicant
    finances: Finances
    loan: Loan
