"""docs/reasons.md lists the reason catalogue as the code has it: code, group and direction."""

from __future__ import annotations

import re
from pathlib import Path

from scoring.features import FEATURE_NAMES
from scoring.reasons import CATALOGUE, OVERALL_RISK

DOC = Path(__file__).resolve().parents[2] / "docs" / "reasons.md"
_SIGN = {1: "+", -1: "-", 0: "cat."}
RETIRED = {"R20_MARITAL_STATUS": "marital_status"}  # reserved, documented, never given


def _rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `(R\d\d_[A-Z_]+)` \| `([a-z_]+)` \|([^|]*)\|([^|]*)\|", line)
        if match:
            code, group, direction, description = (part.strip() for part in match.groups())
            rows[code] = (group, direction, description)
    return rows


def test_every_code_is_documented_with_its_group_direction_and_words() -> None:
    rows = _rows()
    for group, rule in CATALOGUE.items():
        documented_group, direction, description = rows.pop(rule.reason.code)
        assert documented_group == group
        if rule.per_category:
            assert direction == "cat."
        elif rule.reportable:
            assert direction == _SIGN[rule.direction]
            assert description == rule.reason.description
        else:
            assert direction == "none"
    assert rows.pop(OVERALL_RISK.code)[2] == OVERALL_RISK.description
    for code, group in RETIRED.items():
        documented_group, direction, _ = rows.pop(code)
        assert (documented_group, direction) == (group, "retired")
        assert all(rule.reason.code != code for rule in CATALOGUE.values())
    assert rows == {}, f"documented but not in the code: {sorted(rows)}"


def test_every_not_stated_reason_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in CATALOGUE.values():
        if rule.when_missing is not None:
            assert f"`{rule.when_missing.code}`: {rule.when_missing.description}" in text


def test_every_category_sentence_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for group, rule in CATALOGUE.items():
        categories = [
            name.split("=", 1)[1] for name in FEATURE_NAMES if name.startswith(group + "=")
        ]
        assert len(rule.per_category) == len(categories)
        for category, reason in zip(categories, rule.per_category, strict=True):
            assert reason.code == rule.reason.code
            assert f"| `{reason.code}` | `{category}` | {reason.description}" in text
