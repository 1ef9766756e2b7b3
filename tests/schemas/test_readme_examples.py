"""Every JSON example in schemas/README.md parses, validates against its published schema (with
format checking) and decodes with the stream's decoder: an example is what people copy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs installed

from schemas.decode import decode_application, decode_loan_outcome, decode_loan_scored
from schemas.generate import JSON_DIR

README = JSON_DIR.parent / "README.md"
BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
CONTRACTS = {
    "loan_application.submitted": ("loan_application_submitted.v1.json", decode_application),
    "loan_application.scored": ("loan_scored.v1.json", decode_loan_scored),
    "loan_application.outcome_observed": ("loan_outcome.v1.json", decode_loan_outcome),
}


def _blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_json_examples() -> None:
    assert _blocks(), "no ```json block found: the test below would check nothing"


@pytest.mark.parametrize("block", _blocks())
def test_each_json_example_parses_validates_and_decodes(block: str) -> None:
    document: Any = json.loads(block)  # raises on anything that is not JSON
    event_type = document.get("event_type") if isinstance(document, dict) else None
    if event_type is None:
        return  # a JSON fragment that is not an event: parsing is all it promises
    file_name, decode = CONTRACTS[event_type]
    schema = json.loads((JSON_DIR / file_name).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [error.message for error in validator.iter_errors(document)]
    assert not errors, errors
    decode(block.encode())
