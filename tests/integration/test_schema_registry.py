"""`loan-scorer schemas register|check` against a real schema registry (Apicurio, in its
Confluent-compatible mode): the policy's compatibility set, an additive change accepted, the
breaking changes schemas/README.md forbids refused with the registry's own diff."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from typer.testing import CliRunner

from consumer.cli import app
from consumer.kafka.schema_registry import schema_lookup
from schemas.errors import UnknownSchemaError
from schemas.registry import JSON_DIR
from schemas.wire import WriterSchema

pytestmark = pytest.mark.integration

INPUT_FILE = "loan_application_submitted.v1.json"


@pytest.fixture
def topics(
    monkeypatch: pytest.MonkeyPatch, schema_registry_url: str, unique_name: Callable[[str], str]
) -> tuple[str, str, str]:
    """Topic names of this test only, so its subjects are its own."""
    names = (unique_name("in"), unique_name("out"), unique_name("outcomes"))
    monkeypatch.setenv("LOAN_SCORER_SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("LOAN_SCORER_INPUT_TOPIC", names[0])
    monkeypatch.setenv("LOAN_SCORER_OUTPUT_TOPIC", names[1])
    monkeypatch.setenv("LOAN_SCORER_OUTCOMES_TOPIC", names[2])
    return names


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["schemas", *args])
    return result.exit_code, result.output


def _edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the committed schema files with the input contract edited."""
    out = tmp_path / "json"
    shutil.copytree(JSON_DIR, out)
    path = out / INPUT_FILE
    schema = json.loads(path.read_text(encoding="utf-8"))
    edit(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")
    return out


def test_register_sets_the_policy_and_registers_each_contract_under_its_topic(
    topics: tuple[str, str, str], schema_registry_url: str
) -> None:
    code, output = _cli("check")
    assert code == 0, output
    assert output.count(": unregistered") == 3

    code, output = _cli("register")
    assert code == 0, output
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    titles = ("LoanApplicationSubmitted", "LoanScored", "LoanOutcome")
    for topic, title in zip(topics, titles, strict=True):
        subject = f"{topic}-value"
        assert client.get_compatibility(subject) == "FORWARD_TRANSITIVE"
        latest = client.get_latest_version(subject)
        assert latest.version == 1
        assert json.loads(str(latest.schema.schema_str))["title"] == title
        assert f"{title}: {subject} version 1" in output

    code, output = _cli("check")
    assert (code, output.count(": unchanged")) == (0, 3), output
    code, output = _cli("register")  # again: the same versions, nothing new
    assert (code, output.count("version 1 ")) == (0, 3), output


def test_an_added_optional_field_passes_and_registers_as_version_2(
    topics: tuple[str, str, str], tmp_path: Path, schema_registry_url: str
) -> None:
    assert _cli("register")[0] == 0

    def add_optional(schema: dict[str, Any]) -> None:
        schema["properties"]["channel"] = {"type": "string", "title": "Channel"}
        schema["$defs"]["Applicant"]["properties"]["email_domain"] = {"type": "string"}

    edited = _edited(tmp_path, add_optional)
    code, output = _cli("check", "--schemas-dir", str(edited))
    assert code == 0, output
    assert f"LoanApplicationSubmitted ({topics[0]}-value): compatible" in output
    code, output = _cli("register", "--schemas-dir", str(edited))
    assert code == 0, output
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    assert client.get_latest_version(f"{topics[0]}-value").version == 2


def _retype_age(schema: dict[str, Any]) -> None:
    schema["$defs"]["Applicant"]["properties"]["age"]["type"] = "string"


def _remove_application_id(schema: dict[str, Any]) -> None:
    schema["required"].remove("application_id")
    del schema["properties"]["application_id"]


def _new_enum_value(schema: dict[str, Any]) -> None:
    schema["$defs"]["JobType"]["enum"].append("contractor")


def _no_longer_required(schema: dict[str, Any]) -> None:
    schema["required"].remove("occurred_at")


def _widened_range(schema: dict[str, Any]) -> None:
    schema["$defs"]["Applicant"]["properties"]["age"]["minimum"] = 16


@pytest.mark.parametrize(
    ("edit", "diff"),
    [
        (_retype_age, "/properties/age/type"),
        (_remove_application_id, "OBJECT_TYPE_REQUIRED_PROPERTIES_MEMBER_ADDED at /required"),
        (_new_enum_value, "/properties/job_type"),
        (_no_longer_required, "OBJECT_TYPE_REQUIRED_PROPERTIES_MEMBER_ADDED at /required"),
        (_widened_range, "/properties/age"),
    ],
    ids=[
        "type-change",
        "removed-required-field",
        "new-enum-value",
        "no-longer-required",
        "widened-range",
    ],
)
def test_a_breaking_change_fails_the_check_with_the_registrys_diff_and_is_refused(
    topics: tuple[str, str, str],
    tmp_path: Path,
    schema_registry_url: str,
    edit: Callable[[dict[str, Any]], None],
    diff: str,
) -> None:
    assert _cli("register")[0] == 0
    edited = _edited(tmp_path, edit)
    code, output = _cli("check", "--schemas-dir", str(edited))
    assert code == 1, output
    assert f"LoanApplicationSubmitted ({topics[0]}-value): incompatible" in output
    assert diff in output, output
    assert f"LoanScored ({topics[1]}-value): unchanged" in output

    code, output = _cli("register", "--schemas-dir", str(edited))
    assert code == 1, output
    assert "refused" in output
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    assert client.get_latest_version(f"{topics[0]}-value").version == 1


def test_the_lookup_names_the_version_and_refuses_ids_of_other_subjects(
    topics: tuple[str, str, str], schema_registry_url: str
) -> None:
    assert _cli("register")[0] == 0
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    application = client.get_latest_version(f"{topics[0]}-value")
    score = client.get_latest_version(f"{topics[1]}-value")
    lookup = schema_lookup(client, f"{topics[0]}-value")

    assert lookup(int(application.schema_id or 0)) == WriterSchema(
        schema_id=int(application.schema_id or 0), version=1
    )
    with pytest.raises(UnknownSchemaError, match="is not a version of"):
        lookup(int(score.schema_id or 0))
    with pytest.raises(UnknownSchemaError, match="is not in the schema registry"):
        lookup(2_000_000_000)


def test_check_without_an_answer_from_the_registry_is_no_verdict(
    monkeypatch: pytest.MonkeyPatch, schema_registry_url: str
) -> None:
    # A path the registry does not serve: every call is answered 404 without a registry code.
    monkeypatch.setenv("LOAN_SCORER_SCHEMA_REGISTRY_URL", schema_registry_url + "/no-such-api")
    code, output = _cli("check")
    assert code == 2, output
    assert "could not check" in output


def test_a_subject_at_another_compatibility_fails_the_check(
    topics: tuple[str, str, str], schema_registry_url: str
) -> None:
    assert _cli("register")[0] == 0
    client = SchemaRegistryClient({"url": schema_registry_url, "timeout": 10})
    client.set_compatibility(f"{topics[1]}-value", "NONE")  # someone loosened it by hand
    code, output = _cli("check")
    assert code == 1, output
    assert f"LoanScored ({topics[1]}-value): wrong_compatibility" in output
    assert "the subject is at NONE; the policy is FORWARD_TRANSITIVE" in output
    assert _cli("register")[0] == 0  # registering puts the policy back
    assert _cli("check")[0] == 0
