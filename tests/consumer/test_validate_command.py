"""`loan-scorer validate FILE...`: the stream decoder's verdict per file, offline."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from consumer.cli import app
from consumer.tools.validate_events import validate_file
from schemas.decode import MAX_EVENT_BYTES
from schemas.examples import example_application_json

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_valid_example_is_valid_and_names_its_application() -> None:
    result = CliRunner().invoke(app, ["validate", str(EXAMPLES / "application.v1.json")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("application.v1.json: valid (application example-0001)")


def test_any_invalid_file_exits_1_with_a_verdict_and_reason_per_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(example_application_json())
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(example_application_json()[:-5])
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * MAX_EVENT_BYTES + example_application_json())
    invalid = EXAMPLES / "application.v1.invalid.json"
    result = CliRunner().invoke(
        app, ["validate", str(good), str(truncated), str(huge), str(invalid)]
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{good}: valid (application app-000001)"
    assert lines[1].startswith(f"{truncated}: invalid: invalid_json: ")
    assert lines[2].startswith(f"{huge}: invalid: oversize: ")
    assert lines[3].startswith(f"{invalid}: invalid: schema_violation: occurred_at: ")
    for field in ("applicant.marital_status", "finances.monthly_income", "finances.debt"):
        assert field in lines[3]


def test_the_verdict_is_the_decoders() -> None:
    verdict = validate_file(EXAMPLES / "application.v1.invalid.json")
    assert not verdict.valid
    assert verdict.reason == "schema_violation"
    assert verdict.application_id is None


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
