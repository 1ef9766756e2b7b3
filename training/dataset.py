"""The credit_data set, verified and mapped row by row onto the v1 application contract.

Training never reads a CSV column as a model input: each row becomes a `LoanApplicationSubmitted`
(the same object the online service receives) and features come from `scoring.features`. Rows
that could not be a valid v1 event (a required category is missing) are excluded and counted,
never imputed: the contract does not allow them, so the model must not learn from them.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from schemas.application_v1 import (
    Applicant,
    Finances,
    HomeOwnership,
    JobType,
    Loan,
    LoanApplicationSubmitted,
    MaritalStatus,
)

logger = logging.getLogger(__name__)

DATA_PATH: Final = Path(__file__).resolve().parent / "data" / "credit_data.csv"
DATA_SHA256: Final = "bdd4569d8cfa1a8f03fcd7315b6eab6925a5800024985bf10a7da77844e68df2"

HOME_MAPPING: Final[dict[str, HomeOwnership]] = {
    "rent": HomeOwnership.RENT,
    "owner": HomeOwnership.OWNER,
    "parents": HomeOwnership.PARENTS,
    "priv": HomeOwnership.PRIVATE,
    "other": HomeOwnership.OTHER,
    "ignore": HomeOwnership.OTHER,
}
MARITAL_MAPPING: Final[dict[str, MaritalStatus]] = {
    member.value: member for member in MaritalStatus
}
JOB_MAPPING: Final[dict[str, JobType]] = {member.value: member for member in JobType}
RECORDS_MAPPING: Final[dict[str, bool]] = {"yes": True, "no": False}
STATUS_MAPPING: Final[dict[str, int]] = {"bad": 1, "good": 0}

# Identifiers only: a fixed namespace and epoch make event ids and timestamps reproducible.
_EVENT_NAMESPACE: Final = uuid.UUID("6f1c5a4e-2d0b-4f57-9a43-1f0e7b6c2a90")
_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)


class DatasetIntegrityError(RuntimeError):
    """The committed CSV is not the file the model cards and the README describe."""


@dataclass(frozen=True, slots=True)
class LabelledApplications:
    """Valid v1 applications with their outcome (1 = bad, the loan defaulted)."""

    applications: list[LoanApplicationSubmitted]
    labels: list[int]
    rownames: list[int]
    excluded_rownames: list[int]
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _optional_float(text: str) -> float | None:
    return None if text in ("", "NA", "NaN") else float(text)


def row_to_application(row: dict[str, str]) -> LoanApplicationSubmitted | None:
    """The v1 event for one CSV row, or None when a required category is missing."""
    home, marital, job = row["Home"], row["Marital"], row["Job"]
    if home not in HOME_MAPPING or marital not in MARITAL_MAPPING or job not in JOB_MAPPING:
        return None
    rowname = int(row["rownames"])
    return LoanApplicationSubmitted(
        event_id=uuid.uuid5(_EVENT_NAMESPACE, f"credit_data/{rowname}"),
        event_type="loan_application.submitted",
        schema_version="1.0",
        occurred_at=_EPOCH + timedelta(minutes=rowname),
        application_id=f"credit-data-{rowname:04d}",
        applicant=Applicant(
            age=int(row["Age"]),
            marital_status=MARITAL_MAPPING[marital],
            home_ownership=HOME_MAPPING[home],
            job_type=JOB_MAPPING[job],
            job_seniority_years=float(row["Seniority"]),
            has_prior_records=RECORDS_MAPPING[row["Records"]],
        ),
        finances=Finances(
            monthly_income=_optional_float(row["Income"]),
            monthly_expenses=float(row["Expenses"]),
            assets=_optional_float(row["Assets"]),
            debt=_optional_float(row["Debt"]),
        ),
        loan=Loan(
            amount=float(row["Amount"]),
            term_months=int(row["Time"]),
            purchase_price=float(row["Price"]),
        ),
    )


def load_credit_data(
    path: Path = DATA_PATH, expected_sha256: str = DATA_SHA256
) -> LabelledApplications:
    """Read the CSV after checking its hash, so a model card names exactly what it learnt from."""
    sha256 = file_sha256(path)
    if sha256 != expected_sha256:
        raise DatasetIntegrityError(
            f"{path} has SHA-256 {sha256}, expected {expected_sha256} (see training/data/README.md)"
        )
    applications: list[LoanApplicationSubmitted] = []
    labels: list[int] = []
    rownames: list[int] = []
    excluded: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            application = row_to_application(row)
            if application is None:
                excluded.append(int(row["rownames"]))
                continue
            applications.append(application)
            labels.append(STATUS_MAPPING[row["Status"]])
            rownames.append(int(row["rownames"]))
    logger.info(
        "credit_data: %d valid applications, %d rows excluded (missing category)",
        len(applications),
        len(excluded),
    )
    return LabelledApplications(applications, labels, rownames, excluded, sha256)


def iter_applications(path: Path = DATA_PATH) -> Iterator[tuple[LoanApplicationSubmitted, int]]:
    """The real applications with their outcome, in file order, for the demo producer."""
    data = load_credit_data(path)
    yield from zip(data.applications, data.labels, strict=True)
