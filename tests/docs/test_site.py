"""The documentation site builds with `mkdocs build --strict`, and its generated pages say what
the sources say: every field of every JSON Schema, the model card, links out of docs/ pointing
at files that exist."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mkdocs.exceptions import PluginError

from docsite.hooks import (
    CONTRACTS_PAGE,
    MODEL_CARD_BEGIN,
    MODEL_CARD_END,
    REPO,
    contracts_page,
    render_contracts,
    render_model_card,
    replace_region,
    rewrite_outside_links,
)

MKDOCS = Path(sys.executable).parent / "mkdocs"
REPO_URL = "https://github.com/loan-scorer/loan-scorer"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "LOAN_SCORER_MODEL_DIR": str(model_dir)}
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _property_names(schema: dict[str, Any]) -> set[str]:
    names = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        names |= set(definition.get("properties", {}))
    return names


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    for page in (
        "index.html",
        "architecture/index.html",
        "contracts/index.html",
        "model-card/index.html",
        "mlops/index.html",
        "runbook/index.html",
        "deploy/index.html",
        "observability/index.html",
        "reliability/index.html",
        "scores/index.html",
        "reasons/index.html",
    ):
        assert (site / page).is_file(), page


def test_contracts_page_holds_every_field_of_every_schema(site: Path) -> None:
    page = _text(site / "contracts" / "index.html")
    schemas = sorted((REPO / "schemas" / "json").glob("*.json"))
    assert len(schemas) >= 2
    for path in schemas:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert f"schemas/json/{path.name}" in page
        for name in _property_names(schema):
            assert f"<code>{name}</code>" in page, f"{path.name}: {name}"


def test_the_committed_contracts_page_is_what_the_schemas_say() -> None:
    committed = CONTRACTS_PAGE.read_text(encoding="utf-8")
    assert committed == contracts_page(committed), (
        "docs/contracts.md is stale: run `make docs-pages` and commit it"
    )
    assert "`schemas/json/loan_scored.v1.json`" in committed


def test_a_schema_change_makes_the_committed_page_stale(tmp_path: Path) -> None:
    for path in (REPO / "schemas" / "json").glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "loan_scored.v1.json":
            schema["properties"]["new_field"] = {"type": "string", "description": "added"}
        (tmp_path / path.name).write_text(json.dumps(schema), encoding="utf-8")
    committed = CONTRACTS_PAGE.read_text(encoding="utf-8")
    regenerated = contracts_page(committed, tmp_path)
    assert regenerated != committed
    assert "| `new_field` | string | no |  | added |" in regenerated


def test_regions_keep_their_markers_and_refuse_a_page_without_them() -> None:
    page = f"intro\n{MODEL_CARD_BEGIN}\nwhere to read it\n{MODEL_CARD_END}\nafter\n"
    assert replace_region(page, MODEL_CARD_BEGIN, MODEL_CARD_END, "the card") == (
        f"intro\n{MODEL_CARD_BEGIN}\n\nthe card\n\n{MODEL_CARD_END}\nafter\n"
    )
    with pytest.raises(PluginError, match="not found"):
        replace_region("intro", MODEL_CARD_BEGIN, MODEL_CARD_END, "the card")


def test_the_model_card_page_says_where_to_read_the_card_off_the_site() -> None:
    page = (REPO / "docs" / "model-card.md").read_text(encoding="utf-8")
    region = page[page.index(MODEL_CARD_BEGIN) : page.index(MODEL_CARD_END)]
    for where in ("build/model/model_card.json", "GET /v1/model", "/app/model/model_card.json"):
        assert where in region, where


def test_model_card_page_is_the_cards(site: Path, model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text(encoding="utf-8"))
    page = _text(site / "model-card" / "index.html")
    assert card["model_version"] in page
    assert card["training_data"]["sha256"] in page
    assert f"{card['metrics']['test_roc_auc']:.4f}" in page


def test_runbook_has_a_section_per_alert(site: Path) -> None:
    rules = _text(REPO / "observability" / "prometheus" / "alerts.yml")
    alerts = re.findall(r"alert: (\w+)", rules)
    page = _text(site / "runbook" / "index.html")
    assert alerts
    for alert in alerts:
        assert f'id="{alert.lower()}"' in page, alert


def test_links_out_of_docs_go_to_the_repository(site: Path) -> None:
    page = _text(site / "deploy" / "index.html")
    assert f'href="{REPO_URL}/blob/main/Dockerfile"' in page
    assert f'href="{REPO_URL}/tree/main/helm/loan-scorer"' in page
    assert 'href="../Dockerfile"' not in page


def test_a_link_to_a_missing_file_fails_the_build() -> None:
    page = REPO / "docs" / "deploy.md"
    assert rewrite_outside_links("[x](../Dockerfile#top)", page, REPO_URL) == (
        f"[x]({REPO_URL}/blob/main/Dockerfile#top)"
    )
    with pytest.raises(PluginError, match="does not exist"):
        rewrite_outside_links("[x](../no-such-file.md)", page, REPO_URL)


def test_generated_markdown_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    assert "run `make model`" in render_model_card(tmp_path)
    with pytest.raises(PluginError, match="no JSON Schema"):
        render_contracts(tmp_path)
