"""Which contract goes under which registry subject, at which compatibility, in which spelling.

Pure: no registry is called here (consumer/kafka/schema_registry.py does that), so the decisions
below are unit-tested on their own.

- **Subjects** follow the serializers' default TopicNameStrategy, `<topic>-value`, so an upstream
  producer's `JSONSerializer` and the CRM's `JSONDeserializer` find the contract with no
  configuration beyond the registry URL.
- **Compatibility** is `FORWARD_TRANSITIVE`, the registry's name for our policy (schemas/README.md,
  "Compatibility policy"): every consumer of major 1, however old, reads every later 1.x. Our
  schemas leave unknown properties open (the decoder ignores unknown fields at every level, and
  the schema says what the decoder does), and with an open content model the registry's
  `BACKWARD` refuses even an added optional property (an older writer may have sent that name
  with another type), while it accepts a removed required field. `FORWARD` is the other way
  round, and exactly the policy: an added optional field passes; a retyped, removed or no longer
  required field, a widened range and a new enum value are refused. tests/schemas/
  test_registry_compatibility.py shows each case against a real registry.
- **Spelling**: the committed files declare JSON Schema 2020-12. The registry's compatibility
  checker (Apicurio's, built on the Everit validator) knows drafts 4 to 7 only and answers a
  2020-12 schema with HTTP 500. Every keyword our models generate means the same in draft-07
  (`$defs` is reached by a JSON pointer), so the registered text is the committed schema with
  `$schema` set to draft-07. A keyword that draft-07 lacks is refused here rather than
  registered with a silently different meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

JSON_DIR = Path(__file__).resolve().parent / "json"
COMPATIBILITY = "FORWARD_TRANSITIVE"
REGISTRY_DRAFT = "http://json-schema.org/draft-07/schema#"

# Keywords of drafts 2019-09 and 2020-12 that draft-07 does not have (or reads differently).
_NOT_IN_DRAFT_07 = frozenset(
    {
        "$anchor",
        "$dynamicAnchor",
        "$dynamicRef",
        "$recursiveAnchor",
        "$recursiveRef",
        "$vocabulary",
        "dependentRequired",
        "dependentSchemas",
        "maxContains",
        "minContains",
        "prefixItems",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
# Maps whose keys are names chosen by us, not keywords.
_NAME_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})

TopicRole = Literal["input", "output", "outcomes"]


@dataclass(frozen=True, slots=True)
class Contract:
    """One registered contract: its name, its committed file, and the topic it travels on."""

    name: str
    file_name: str
    role: TopicRole


APPLICATION = Contract("LoanApplicationSubmitted", "loan_application_submitted.v1.json", "input")
SCORE = Contract("LoanScored", "loan_scored.v1.json", "output")
OUTCOME = Contract("LoanOutcome", "loan_outcome.v1.json", "outcomes")
CONTRACTS: tuple[Contract, ...] = (APPLICATION, SCORE, OUTCOME)
# The dead-letter convention has no schema of its own: a dead letter is the original record,
# untouched, with headers (schemas/dead_letter.py), so there is nothing to register for it.


def subject_for(topic: str) -> str:
    """TopicNameStrategy's subject for record values on `topic`."""
    return f"{topic}-value"


def registry_schema_text(schema_text: str) -> str:
    """The committed 2020-12 schema as the registry stores it: `$schema` set to draft-07.

    Compact and key-sorted, so the same file always yields the same text (a registry finds a
    schema it already holds by its text, and a serializer looks its id up by it).
    """
    schema: Any = json.loads(schema_text)
    if not isinstance(schema, dict):
        raise ValueError("a contract's schema must be a JSON object")
    unsupported = sorted(set(_keywords(schema)) & _NOT_IN_DRAFT_07)
    if unsupported:
        raise ValueError(
            f"{', '.join(unsupported)}: not in JSON Schema draft-07, which the registry's "
            "compatibility checker reads; express the rule with draft-07 keywords"
        )
    schema["$schema"] = REGISTRY_DRAFT
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def contract_schema_text(contract: Contract, schemas_dir: Path = JSON_DIR) -> str:
    """The registry spelling of a contract's schema file in `schemas_dir` (the working tree's
    by default; `schemas check --schemas-dir` points elsewhere)."""
    return registry_schema_text((schemas_dir / contract.file_name).read_text(encoding="utf-8"))


def _keywords(node: Any, *, names: bool = False) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not names:
                yield key
            yield from _keywords(value, names=not names and key in _NAME_MAPS)
    elif isinstance(node, list):
        for item in node:
            yield from _keywords(item)
