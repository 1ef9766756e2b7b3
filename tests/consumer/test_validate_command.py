"""`loan-scorer validate FILE...`: the stream decoder's verdict per file, offline."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from consumer.cli import app
from consumer.kafka.schema_registry import SchemaRegistryUnavailableError
from consumer.tools.validate_events import validate_file
from schemas.decode import MAX_EVENT_BYTES
from schemas.errors import UnknownSchemaError
from schemas.examples import example_application_json
from schemas.wire import FramedApplicationDecoder, WriterSchema, frame

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


def test_a_framed_file_is_judged_by_its_json_and_says_its_schema_id_was_not_checked(
    tmp_path: Path,
) -> None:
    framed = tmp_path / "framed.bin"
    framed.write_bytes(frame(7, example_application_json()))
    broken = tmp_path / "framed-broken.bin"
    broken.write_bytes(frame(7, example_application_json(loan={"term_months": 0})))
    stub = tmp_path / "stub.bin"
    stub.write_bytes(b"\x00\x00")
    result = CliRunner().invoke(
        app,
        ["validate", str(framed), str(broken), str(stub)],
        env={"LOAN_SCORER_SCHEMA_REGISTRY_URL": ""},
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{framed}: valid (application app-000001; framed, schema id 7 not checked: "
        "no schema registry configured)"
    )
    assert lines[1].startswith(f"{broken}: invalid: schema_violation: loan.term_months: ")
    assert lines[2] == (
        f"{stub}: invalid: invalid_json: Record value has the registry's magic byte but no "
        "schema id"
    )


def test_with_a_registry_the_schema_id_is_looked_up_as_the_scorer_does(tmp_path: Path) -> None:
    def lookup(schema_id: int) -> WriterSchema:
        if schema_id == 7:
            return WriterSchema(schema_id=7, version=2)
        if schema_id == 8:
            raise SchemaRegistryUnavailableError("the schema registry could not be reached")
        raise UnknownSchemaError(f"schema id {schema_id} is not in the schema registry")

    decoder = FramedApplicationDecoder(lookup)
    paths = []
    for schema_id in (7, 8, 9):
        path = tmp_path / f"framed-{schema_id}.bin"
        path.write_bytes(frame(schema_id, example_application_json()))
        paths.append(path)
    known, unreachable, unknown = (validate_file(path, decoder) for path in paths)
    assert known.line().endswith("valid (application app-000001; framed, schema id 7, version 2)")
    assert (unreachable.valid, unreachable.reason) == (False, None)
    assert unreachable.line().endswith("not checked: the schema registry could not be reached")
    assert (unknown.reason, unknown.message) == (
        "unknown_schema",
        "schema id 9 is not in the schema registry",
    )
    plain = tmp_path / "plain.json"
    plain.write_bytes(example_application_json())
    assert validate_file(plain, decoder).line() == f"{plain}: valid (application app-000001)"
