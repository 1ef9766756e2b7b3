"""MkDocs hooks: pages generated from the repository's own sources, and links out of docs/.

- docs/contracts.md holds, between its contracts markers, the field tables of every JSON Schema
  in schemas/json: committed, so they read on GitHub too; `make docs-pages` writes them again and
  tests/docs/test_site.py fails when they are stale. The build renders them afresh as well.
- docs/model-card.md's model-card region says where to read the full card (it depends on the
  trained model, its date and library versions: nothing to commit); on the site it becomes the
  card of the model in LOAN_SCORER_MODEL_DIR or build/model.
- A link from a page to a repository file outside docs/ (`../Dockerfile`) works on GitHub as it
  is; on the site it becomes a link to that file in the repository. A target that does not exist
  fails the build, as a broken link inside docs/ does under `--strict`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Final

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

REPO: Final = Path(__file__).resolve().parent.parent
SCHEMA_DIR: Final = REPO / "schemas" / "json"
CONTRACTS_PAGE: Final = REPO / "docs" / "contracts.md"
CONTRACTS_BEGIN: Final = "<!-- contracts: generated from schemas/json by `make docs-pages` -->"
CONTRACTS_END: Final = "<!-- /contracts -->"
MODEL_CARD_BEGIN: Final = (
    "<!-- model-card: the site shows the card of the model it was built with -->"
)
MODEL_CARD_END: Final = "<!-- /model-card -->"
_OUTSIDE_LINK: Final = re.compile(r"\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")

Schema = dict[str, Any]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type_of(prop: Schema) -> str:
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type_of(option) for option in prop["anyOf"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(prop.get('items', {}))}"
    return f"{kind}" + (f" ({prop['format']})" if "format" in prop else "")


_CONSTRAINTS: Final = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "maxItems",
    "pattern",
)


def _constraints(prop: Schema) -> str:
    found = [f"{key} `{prop[key]}`" for key in _CONSTRAINTS if key in prop]
    for option in prop.get("anyOf", []):
        found.extend(f"{key} `{option[key]}`" for key in _CONSTRAINTS if key in option)
    return ", ".join(found)


def _object_table(schema: Schema) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | required | constraints | description |", "|---|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        lines.append(
            f"| `{name}` | {_cell(_type_of(prop))} | {'yes' if name in required else 'no'} | "
            f"{_cell(_constraints(prop))} | {_cell(prop.get('description', ''))} |"
        )
    return lines


def render_schema(path: Path) -> str:
    """One schema file as Markdown: its description, its fields, then each definition."""
    schema: Schema = json.loads(path.read_text(encoding="utf-8"))
    title = schema.get("title", path.stem)
    lines = [
        f"## {title}",
        "",
        f"`schemas/json/{path.name}` ({schema.get('$id', 'no $id')})",
        "",
        _cell(schema.get("description", "")),
        "",
        *_object_table(schema),
        "",
    ]
    for name, definition in schema.get("$defs", {}).items():
        lines += [f"### {name}", "", _cell(definition.get("description", "")), ""]
        if "properties" in definition:
            lines += [*_object_table(definition), ""]
        elif "enum" in definition:
            lines += ["Values: " + ", ".join(f"`{v}`" for v in definition["enum"]), ""]
    return "\n".join(lines)


def render_contracts(schema_dir: Path = SCHEMA_DIR) -> str:
    files = sorted(schema_dir.glob("*.json"))
    if not files:
        raise PluginError(f"no JSON Schema in {schema_dir}")
    return "\n".join(render_schema(path) for path in files)


def _model_dir() -> Path:
    return Path(os.environ.get("LOAN_SCORER_MODEL_DIR") or REPO / "build" / "model")


def render_model_card(model_dir: Path) -> str:
    card_path = model_dir / "model_card.json"
    if not card_path.is_file():
        return (
            f"!!! note\n    No trained model in `{model_dir}`: run `make model` and build the site "
            "again to see the card here. `GET /v1/model` serves it from a running scorer.\n"
        )
    card = json.loads(card_path.read_text(encoding="utf-8"))
    data = card["training_data"]
    metrics = card["metrics"]
    shown = [
        key
        for key in sorted(metrics)
        if key.startswith(("cv_", "test_", "validation_")) or key == "pd_floor"
    ]
    lines = [
        f"**Model version** `{card['model_version']}`, trained {card['created_at']} with seed "
        f"{card['seed']}: {card['estimator']}.",
        "",
        "| training data | |",
        "|---|---|",
        f"| source | {_cell(data['source'])} |",
        f"| SHA-256 | `{data['sha256']}` |",
        f"| rows used / excluded | {data['rows_used']} / {data['rows_excluded']} |",
        f"| train / test rows | {data['train_rows']} / {data['test_rows']} |",
        f"| bad rate | {data['bad_rate']:.3f} |",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| `{key}` | {metrics[key]:.4f} |" for key in shown),
        "",
        "| decision policy | |",
        "|---|---|",
        *(
            f"| {key} | `{_cell(json.dumps(value))}` |"
            for key, value in card["decision_thresholds"].items()
        ),
        "",
        "Features: " + ", ".join(f"`{name}`" for name in card["feature_names"]) + ".",
        "",
        "Libraries: "
        + ", ".join(f"{name} {version}" for name, version in card["library_versions"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def replace_region(markdown: str, begin: str, end: str, content: str) -> str:
    """The text between two marker lines replaced, the markers kept; missing markers are an
    error, so a page edited by hand cannot silently lose its generated part."""
    start, stop = markdown.find(begin), markdown.find(end)
    if start < 0 or stop < start:
        raise PluginError(f"markers {begin!r} ... {end!r} not found in order")
    return markdown[: start + len(begin)] + "\n\n" + content.strip() + "\n\n" + markdown[stop:]


def contracts_page(markdown: str, schema_dir: Path = SCHEMA_DIR) -> str:
    return replace_region(markdown, CONTRACTS_BEGIN, CONTRACTS_END, render_contracts(schema_dir))


def write_generated_pages() -> None:
    """`make docs-pages`: the committed generated part of docs/contracts.md, written again."""
    text = CONTRACTS_PAGE.read_text(encoding="utf-8")
    CONTRACTS_PAGE.write_text(contracts_page(text), encoding="utf-8")


def rewrite_outside_links(markdown: str, page_path: Path, repo_url: str) -> str:
    """Links that leave docs/ point at the repository file; a missing target is an error."""

    def replace(match: re.Match[str]) -> str:
        target = (page_path.parent / match.group(1)).resolve()
        if not target.exists():
            raise PluginError(f"{page_path.name}: link to {match.group(1)}, which does not exist")
        relative = target.relative_to(REPO).as_posix()
        kind = "tree" if target.is_dir() else "blob"
        return f"]({repo_url.rstrip('/')}/{kind}/main/{relative}{match.group(2) or ''})"

    return _OUTSIDE_LINK.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if CONTRACTS_BEGIN in markdown:
        markdown = contracts_page(markdown)
    if MODEL_CARD_BEGIN in markdown:
        card = render_model_card(_model_dir())
        markdown = replace_region(markdown, MODEL_CARD_BEGIN, MODEL_CARD_END, card)
    source = page.file.abs_src_path
    if source is None:
        return markdown
    return rewrite_outside_links(markdown, Path(source), config.repo_url or "")


if __name__ == "__main__":
    write_generated_pages()
