"""Known feature values on hand-made applications."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.features import DEBT_SERVICE_RATE, FEATURE_NAMES, build_features
from tests.scoring.conftest import ApplicationFactory


def _row(app_features: np.ndarray[tuple[int, int], np.dtype[np.float64]]) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, app_features[0].tolist(), strict=True))


def test_engineered_values(make_application: ApplicationFactory) -> None:
    row = _row(build_features([make_application()]))
    instalment = 1000.0 / 50
    disposable = 200.0 - 50.0 - 100.0 * DEBT_SERVICE_RATE
    assert row["loan_to_price"] == pytest.approx(0.8)
    assert row["instalment"] == pytest.approx(instalment)
    assert row["free_monthly_income"] == pytest.approx(disposable - instalment)
    assert row["repayment_capacity"] == pytest.approx(disposable / instalment)
    assert row["instalment_to_income"] == pytest.approx(instalment / 200.0)
    assert row["debt_to_annual_income"] == pytest.approx(100.0 / 2400.0)
    assert row["assets_to_loan"] == pytest.approx(5.0)
    assert row["has_prior_records"] == 0.0


def test_one_hot_follows_the_contract_enums(make_application: ApplicationFactory) -> None:
    row = _row(build_features([make_application(applicant__home_ownership="private")]))
    home = {name: value for name, value in row.items() if name.startswith("home_ownership=")}
    assert home == {
        "home_ownership=rent": 0.0,
        "home_ownership=owner": 0.0,
        "home_ownership=parents": 0.0,
        "home_ownership=private": 1.0,
        "home_ownership=other": 0.0,
    }
    assert sum(v for n, v in row.items() if n.startswith("job_type=")) == 1.0
    # Marital status is a prohibited basis: no column carries it, whatever the application says.
    assert not [n for n in row if n.startswith("marital_status")]
    single = build_features([make_application(applicant__marital_status="single")])
    married = build_features([make_application(applicant__marital_status="married")])
    np.testing.assert_array_equal(single, married)


def test_missing_stays_missing(make_application: ApplicationFactory) -> None:
    app = make_application(finances__monthly_income=None, finances__assets=None)
    row = _row(build_features([app]))
    for name in ("monthly_income", "assets", "free_monthly_income", "instalment_to_income"):
        assert np.isnan(row[name]), name
    assert np.isnan(row["assets_to_loan"])
    assert row["loan_to_price"] == pytest.approx(0.8)


def test_zero_income_gives_nan_ratios_not_infinities(make_application: ApplicationFactory) -> None:
    features = build_features([make_application(finances__monthly_income=0.0)])
    assert not np.isinf(features).any()
    assert _row(features)["free_monthly_income"] < 0


def test_empty_batch_has_the_right_width() -> None:
    assert build_features([]).shape == (0, len(FEATURE_NAMES))
