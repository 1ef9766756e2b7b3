"""`LoanApplicationSubmitted` v1: the input contract (the applications topic, key = application_id).

The field names are the contract other teams build against; see schemas/README.md for the
compatibility policy. Decode records with `schemas.decode.decode_application`, which adds the size
limit and maps failures onto dead-letter reasons.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

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
    age: Annotated[int, Field(ge=18, le=100, strict=True, description="Age in whole years.")]
    marital_status: MaritalStatus
    home_ownership: HomeOwnership
    job_type: JobType
    job_seniority_years: Annotated[NonNegative, Field(description="Years in the current job.")]
    has_prior_records: Annotated[
        bool, Field(description="Whether the applicant has prior records (credit_data `Records`).")
    ]


class Finances(Contract):
    """Money amounts are in the loan's currency; null means the applicant did not say."""

    monthly_income: NonNegative | None
    monthly_expenses: NonNegative
    assets: NonNegative | None
    debt: NonNegative | None


class Loan(Contract):
    amount: Annotated[Positive, Field(description="Amount requested.")]
    term_months: Annotated[int, Field(ge=1, le=120, strict=True)]
    purchase_price: Annotated[Positive, Field(description="Price of what the loan pays for.")]


class LoanApplicationSubmitted(Contract):
    """A loan application as submitted, v1.x: the only input a credit decision may rest on."""

    event_id: Annotated[UUID, Field(description="Unique per event; consumers deduplicate on it.")]
    event_type: Literal["loan_application.submitted"]
    schema_version: Annotated[
        SchemaVersion1, Field(description="`1.<minor>`; a v1 consumer accepts every minor.")
    ]
    occurred_at: Annotated[Timestamp, Field(description="RFC 3339 with an offset.")]
    application_id: Annotated[
        ApplicationId, Field(description="Stable id of the application; also the record key.")
    ]
    applicant: Applicant
    finances: Finances
    loan: Loan
