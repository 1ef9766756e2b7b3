"""The registry's spelling of our contracts, and which subject each goes under."""

from __future__ import annotations

import json

import pytest

from schemas.registry import (
    COMPATIBILITY,
    CONTRACTS,
    JSON_DIR,
    REGISTRY_DRAFT,
    contract_schema_text,
    registry_schema_text,
    subject_for,
)


def test_subjects_follow_the_serializers_topic_name_strategy() -> None:
    assert subject_for("loan-applications") == "loan-applications-value"


def test_the_policy_is_forward_transitive() -> None:
    # schemas/README.md: every consumer of major 1, however old, reads every later 1.x.
    assert COMPATIBILITY == "FORWARD_TRANSITIVE"


def test_every_contract_file_is_registered_in_draft_07_with_its_content_unchanged() -> None:
    assert {contract.file_name for contract in CONTRACTS} == {
        "loan_application_submitted.v1.json",
        "loan_scored.v1.json",
        "loan_outcome.v1.json",
    }
    for contract in CONTRACTS:
        committed = json.loads((JSON_DIR / contract.file_name).read_text(encoding="utf-8"))
        registered = json.loads(contract_schema_text(contract))
        assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert registered["$schema"] == REGISTRY_DRAFT == "http://json-schema.org/draft-07/schema#"
        assert {k: v for k, v in registered.items() if k != "$schema"} == {
            k: v for k, v in committed.items() if k != "$schema"
        }


def test_the_registry_text_is_the_same_however_the_file_is_laid_out() -> None:
    a = registry_schema_text('{"type": "object", "title": "T"}')
    b = registry_schema_text('{\n  "title": "T",\n  "type": "object"\n}\n')
    assert a == b
    assert " " not in a


@pytest.mark.parametrize("keyword", ["prefixItems", "unevaluatedProperties", "dependentRequired"])
def test_a_keyword_draft_07_lacks_is_refused(keyword: str) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", keyword: []}}}
    with pytest.raises(ValueError, match=keyword):
        registry_schema_text(json.dumps(schema))


def test_a_property_that_happens_to_be_named_like_a_keyword_is_not_refused() -> None:
    schema = {"type": "object", "properties": {"prefixItems": {"type": "string"}}}
    assert json.loads(registry_schema_text(json.dumps(schema)))["properties"] == {
        "prefixItems": {"type": "string"}
    }


def test_a_schema_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        registry_schema_text("[]")
