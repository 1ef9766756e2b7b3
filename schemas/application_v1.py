"""`LoanApplicationSubmitted` v1: the input contract (topic `loan-applications`, key = application_id).

The field names are the contract other teams build against; see schemas/README.md for the
compatibility policy. Validation is strict on purpose: a credit decision must never be taken on a
number that arrived as a string, a NaN, or a timestamp without a time zone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
    PARTIME = "partime"
    OTHERS = "others"


# Strict, finite numbers: no "12" for 12, no NaN, no infinities.
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]


class _Contract(BaseModel):
    # Unknown fields are ignored, not rejected: a v1.1 producer may add optional fields without
    # breaking v1 consumers (schemas/README.md). Everything known is validated strictly.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Applicant(_Contract):
    age: Annotated[int, Field(ge=18, le=100, strict=True)]
    marital_status: MaritalStatus
    home_ownership: HomeOwnership
    job_type: JobType
    job_seniority_years: NonNegative
    has_prior_records: bool


class Finances(_Contract):
    monthly_income: NonNegative | None
    monthly_expenses: NonNegative
    assets: NonNegative | None
    debt: NonNegative | None


class Loan(_Contract):
    amount: Positive
    term_months: Annotated[int, Field(ge=1, le=120, strict=True)]
    purchase_price: Positive


class LoanApplicationSubmitted(_Contract):
    event_id: UUID
    event_type: Literal["loan_application.submitted"]
    schema_version: Annotated[str, Field(pattern=r"^1\.\d{1,3}$")]
    occurred_at: AwareDatetime
    application_id: Annotated[str, Field(min_length=1, max_length=64)]
    applicant: Applicant
    finances: Finances
    loan: Loan
