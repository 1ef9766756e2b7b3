"""The joined-pair contract: its columns, dtypes and domains, bands, and the file round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from impact.pairs import (
    AGE_BANDS,
    PAIR_COLUMNS,
    PairFrameError,
    age_band,
    coerce_pairs,
    empty_pairs,
    read_pairs,
    validate_pairs,
    write_pairs,
)


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (18, "<25"),
        (24, "<25"),
        (25, "25-34"),
        (34, "25-34"),
        (35, "35-44"),
        (44, "35-44"),
        (45, "45-54"),
        (54, "45-54"),
        (55, "55-64"),
        (64, "55-64"),
        (65, "65+"),
        (100, "65+"),
    ],
)
def test_age_band_edges(age: int, band: str) -> None:
    assert age_band(age) == band


def test_every_contract_age_falls_in_a_listed_band() -> None:
    assert {age_band(age) for age in range(18, 101)} == set(AGE_BANDS)


def test_fixture_frame_is_valid_and_has_the_contract_columns(champion_pairs: pd.DataFrame) -> None:
    assert list(champion_pairs.columns) == list(PAIR_COLUMNS)
    assert len(champion_pairs) == 890  # the seed-42 test split of the card
    assert champion_pairs["defaulted"].dtype == bool
    assert str(champion_pairs["scored_at"].dtype) == "datetime64[ns, UTC]"
    # The real bad rate of credit_data is 28 %; the stratified split keeps it.
    assert champion_pairs["defaulted"].mean() == pytest.approx(0.281, abs=0.002)


def test_empty_frame_is_valid() -> None:
    assert validate_pairs(empty_pairs()).empty


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("role", "leader", "role has values outside"),
        ("grade", "F", "grade has values outside"),
        ("decision", "maybe", "decision has values outside"),
        ("age_band", "37", "age_band has values outside"),
        ("marital_status", "complicated", "marital_status has values outside"),
        ("pd", 0.0, "pd must lie in"),
        ("pd", 1.5, "pd must lie in"),
        ("exposure", -1.0, "exposure must be finite"),
        ("knock_outs", "LOW_INCOME", "non knock-out codes"),
    ],
)
def test_validator_refuses_values_outside_the_domain(
    champion_pairs: pd.DataFrame, column: str, value: str | float, message: str
) -> None:
    frame = champion_pairs.copy()
    frame.loc[0, column] = value
    with pytest.raises(PairFrameError, match=message):
        validate_pairs(frame)


def test_validator_refuses_a_missing_column(champion_pairs: pd.DataFrame) -> None:
    with pytest.raises(PairFrameError, match="missing columns: exposure"):
        validate_pairs(champion_pairs.drop(columns=["exposure"]))


def test_validator_refuses_wrong_dtypes(champion_pairs: pd.DataFrame) -> None:
    frame = champion_pairs.copy()
    frame["defaulted"] = frame["defaulted"].astype("int64")
    with pytest.raises(PairFrameError, match="defaulted must have dtype bool"):
        validate_pairs(frame)


def test_validator_refuses_a_pair_joined_twice(champion_pairs: pd.DataFrame) -> None:
    frame = pd.concat([champion_pairs, champion_pairs.iloc[[3]]], ignore_index=True)
    with pytest.raises(PairFrameError, match="1 rows repeat a key"):
        validate_pairs(frame)


@pytest.mark.parametrize("suffix", [".csv"])
def test_file_round_trip_keeps_values_and_dtypes(
    champion_pairs: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    path = write_pairs(champion_pairs, tmp_path / f"pairs{suffix}")
    back = read_pairs(path)
    pd.testing.assert_frame_equal(back, champion_pairs.reset_index(drop=True))
    assert (back["knock_outs"] != "").any()  # some knock-outs, and "" survived the CSV too


def test_coerce_reads_text_booleans() -> None:
    frame = empty_pairs()
    row = {
        "application_id": "a-1",
        "model_version": "m",
        "role": "champion",
        "policy_version": "policy-v2",
        "pd": "0.1",
        "grade": "B",
        "decision": "approve",
        "knock_outs": float("nan"),
        "defaulted": "True",
        "exposure": "1000",
        "age_band": "25-34",
        "marital_status": "single",
        "scored_at": "2025-01-01T00:00:00Z",
        "observed_at": "2025-06-01T00:00:00Z",
    }
    coerced = coerce_pairs(pd.concat([frame.astype(object), pd.DataFrame([row])]))
    assert coerced["defaulted"].tolist() == [True]
    assert coerced.loc[0, "knock_outs"] == ""
    assert coerced.loc[0, "pd"] == 0.1


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PairFrameError, match=r"not '\.json'"):
        read_pairs(tmp_path / "pairs.json")
