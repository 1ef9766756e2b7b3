"""The code that stands for a scoring failure in dead-letter headers, logs and API answers."""

from __future__ import annotations

import pytest

from schemas.errors import scoring_failure_code, scoring_failure_message


@pytest.mark.parametrize("name", ["ValueError", "InvalidProbability", "LinAlgError"])
def test_an_exception_class_name_is_kept(name: str) -> None:
    assert scoring_failure_code(name) == name


@pytest.mark.parametrize(
    "name",
    ["income 4321.5", "x" * 65, "Value-Error", "", "Ärger", "a\nb", "input_value=1"],
)
def test_anything_else_becomes_a_fixed_code(name: str) -> None:
    assert scoring_failure_code(name) == "ScoringFailed"


def test_the_message_names_the_code_only() -> None:
    assert scoring_failure_message("ValueError") == (
        "the model could not score this application (ValueError)"
    )
