"""docs/scores.md states only what the data and the code say: the label, its rate, no horizon,
and where the cards are. These checks fail when either side changes without the other."""

from __future__ import annotations

from pathlib import Path

from training.dataset import STATUS_MAPPING, load_credit_data

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "scores.md").read_text(encoding="utf-8")


def test_the_default_definition_is_the_data_sets_status_as_the_code_maps_it() -> None:
    assert STATUS_MAPPING == {"bad": 1, "good": 0}
    assert "`bad` -> 1 (defaulted), `good` -> 0" in DOC
    assert "The horizon is not stated." in DOC


def test_the_stated_bad_count_and_rate_are_the_datas() -> None:
    data = load_credit_data()
    bad, total = sum(data.labels), len(data.labels)
    assert f"{bad:,} of the {total:,} applications ({bad / total:.1%})" in DOC


def test_it_defines_occurred_at_and_says_where_the_cards_live() -> None:
    assert "## `occurred_at`" in DOC
    assert "business time, set by the producer" in DOC
    assert "/app/model/model_card.json" in DOC
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--out /app/model" in dockerfile, "the image no longer carries its card where we say"
    assert "GET /v1/model" in DOC


def test_the_contract_and_the_readme_link_it() -> None:
    contract = (REPO / "schemas" / "README.md").read_text(encoding="utf-8")
    assert "docs/scores.md#where-model-cards-live-including-past-ones" in contract
    assert "## Where model cards live, including past ones" in DOC
    assert "docs/scores.md" in (REPO / "README.md").read_text(encoding="utf-8")
