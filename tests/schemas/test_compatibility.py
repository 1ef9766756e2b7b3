"""The compatibility policy of schemas/README.md, as tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.decode import decode_application
from schemas.errors import SchemaViolationError, UnsupportedVersionError
from schemas.examples import MISSING, example_application, example_application_json
from schemas.generate import JSON_DIR


def test_a_v1_1_event_with_new_optional_fields_is_read_by_a_v1_consumer() -> None:
    v1_1 = example_application_json(
        schema_version="1.1",
        channel="mobile",
        applicant={"employer_sector": "retail"},
        loan={"purpose": {"kind": "car", "new": True}},
    )
    event = decode_application(v1_1)
    assert event.schema_version == "1.1"
    assert event.model_dump(exclude={"schema_version"}) == decode_application(
        example_application_json()
    ).model_dump(exclude={"schema_version"})


def test_a_2_0_event_is_an_unsupported_version() -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        decode_application(example_application_json(schema_version="2.0"))
    assert caught.value.reason == "unsupported_version"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"finances": {"debt": MISSING}}, "finances.debt"),  # removed
        ({"loan": {"term_months": MISSING, "term": 36}}, "loan.term_months"),  # renamed
        ({"applicant": {"has_prior_records": "no"}}, "applicant.has_prior_records"),  # retyped
        ({"applicant": {"job_type": "contractor"}}, "applicant.job_type"),  # new enum value
    ],
)
def test_breaking_changes_in_a_1_x_event_are_schema_violations(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(SchemaViolationError) as caught:
        decode_application(example_application_json(schema_version="1.1", **overrides))
    assert caught.value.fields == (field,)


# The v1.0 contract as issue 3 states it: every path, whether it is required, and its JSON type.
# Regenerating the schema files cannot change this list; only a deliberate, reviewed edit can.
V1_0_FIELDS: dict[str, str] = {
    "event_id": "string",
    "event_type": "string",
    "schema_version": "string",
    "occurred_at": "string",
    "application_id": "string",
    "applicant": "object",
    "applicant.age": "integer",
    "applicant.marital_status": "string",
    "applicant.home_ownership": "string",
    "applicant.job_type": "string",
    "applicant.job_seniority_years": "number",
    "applicant.has_prior_records": "boolean",
    "finances": "object",
    "finances.monthly_income": "number|null",
    "finances.monthly_expenses": "number",
    "finances.assets": "number|null",
    "finances.debt": "number|null",
    "loan": "object",
    "loan.amount": "number",
    "loan.term_months": "integer",
    "loan.purchase_price": "number",
}


def _json_type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        return "|".join(_json_type(option, defs) for option in node["anyOf"])
    return str(node["type"])


def _required_fields(
    node: dict[str, Any], defs: dict[str, Any], prefix: str = ""
) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name in node.get("required", []):
        child = node["properties"][name]
        fields[prefix + name] = _json_type(child, defs)
        target = defs[child["$ref"].rsplit("/", 1)[1]] if "$ref" in child else child
        if target.get("type") == "object":
            fields.update(_required_fields(target, defs, f"{prefix}{name}."))
    return fields


def test_the_published_schema_still_requires_every_v1_0_field_with_its_type() -> None:
    schema = json.loads(
        (JSON_DIR / "loan_application_submitted.v1.json").read_text(encoding="utf-8")
    )
    published = _required_fields(schema, schema["$defs"])
    assert published == V1_0_FIELDS


@pytest.mark.parametrize("path", [p for p, t in V1_0_FIELDS.items() if t != "object"])
def test_every_v1_0_field_is_in_the_example(path: str) -> None:
    section, _, field = path.rpartition(".")
    document = example_application()
    assert field in (document[section] if section else document)
