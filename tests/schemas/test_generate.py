"""The committed JSON Schema files: in step with the models, and agreeing with them on examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.decode import decode_application
from schemas.encode import encode_loan_outcome, encode_loan_scored
from schemas.errors import EventDecodeError
from schemas.examples import MISSING, example_application, example_loan_scored
from schemas.generate import CONTRACTS, JSON_DIR, main, stale_files
from schemas.outcome_v1 import loan_outcome_for


def test_the_committed_files_match_the_models() -> None:
    stale = stale_files()
    assert not stale, f"run `python -m schemas.generate` and commit: {[p.name for p in stale]}"


def test_the_files_are_the_contracts_and_nothing_else() -> None:
    assert sorted(p.name for p in JSON_DIR.glob("*.json")) == sorted(CONTRACTS)


def test_check_fails_on_drift_and_write_repairs_it(tmp_path: Path) -> None:
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "loan_scored.v1.json").write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_the_output_does_not_depend_on_the_interpreters_hash_seed(hash_seed: str) -> None:
    """Set and dict iteration order changes with PYTHONHASHSEED; a fresh interpreter with another
    seed must still render exactly the committed files."""
    result = subprocess.run(  # our own module, fixed arguments
        [sys.executable, "-m", "schemas.generate", "--check"],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        cwd=JSON_DIR.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _validator(file_name: str) -> Any:
    import jsonschema  # type: ignore[import-untyped]  # a dev dependency; missing, the test fails

    schema = json.loads((JSON_DIR / file_name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"finances": {"monthly_income": None, "assets": None, "debt": None}},
        {"schema_version": "1.7", "new_optional_field": {"anything": 1}},
        {"applicant": {"age": 17}},
        {"applicant": {"job_type": "astronaut"}},
        {"finances": {"monthly_income": "2100"}},
        {"loan": {"amount": 0}},
        {"loan": {"term_months": 121}},
        {"loan": MISSING},
        {"schema_version": "2.0"},
        {"event_type": "loan_application.scored"},
        {"application_id": ""},
    ],
)
def test_the_application_schema_agrees_with_the_model(overrides: dict[str, Any]) -> None:
    """A non-Python producer validating against the file gets the same verdict as our consumer."""
    document = example_application(**overrides)
    schema_says_valid = _validator("loan_application_submitted.v1.json").is_valid(document)
    try:
        decode_application(orjson.dumps(document))
    except EventDecodeError:
        model_says_valid = False
    else:
        model_says_valid = True
    assert schema_says_valid == model_says_valid


def test_an_encoded_loan_scored_is_valid_against_its_schema() -> None:
    document = orjson.loads(encode_loan_scored(example_loan_scored()))
    validator = _validator("loan_scored.v1.json")
    assert validator.is_valid(document)
    assert not validator.is_valid({**document, "risk_grade": "F"})
    assert not validator.is_valid({**document, "probability_of_default": 1.5})
    assert not validator.is_valid({k: v for k, v in document.items() if k != "policy_version"})


def test_an_encoded_loan_outcome_is_valid_against_its_schema() -> None:
    document = orjson.loads(
        encode_loan_outcome(loan_outcome_for("app-000001", defaulted=True, source="servicing"))
    )
    validator = _validator("loan_outcome.v1.json")
    assert validator.is_valid(document)
    assert not validator.is_valid({**document, "defaulted": "yes"})
    assert not validator.is_valid({**document, "application_id": ""})
    assert not validator.is_valid({k: v for k, v in document.items() if k != "observed_at"})


def test_the_scored_schema_allows_the_three_roles_and_null_only() -> None:
    document = orjson.loads(encode_loan_scored(example_loan_scored()))
    validator = _validator("loan_scored.v1.json")
    for role in ("champion", "canary", "shadow", None):
        assert validator.is_valid({**document, "model_role": role})
    assert not validator.is_valid({**document, "model_role": "referee"})
