"""`loan-scorer report`: the HTML from real pairs, opened in headless Chromium.

The pairs are the shipped model's scores on the data set's held-out split with its real labels,
and a real challenger (the L2 logistic candidate) in shadow. The browser checks what an analyst
would see: every section, every plot decoded, a page that is not blank.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from typer.testing import CliRunner

from consumer.cli import app
from impact.dataset_pairs import HeldOut
from impact.pairs import write_pairs
from impact.report import render_report
from impact.report_fairness import card_fairness_lines
from impact.report_inputs import ReportInput, build_report_input, bundled_policies
from scoring.artifact import read_card
from tests.impact.browser import dump_dom, screenshot

SECTION_IDS = [
    "summary",
    "fairness",
    "score-drift",
    "feature-drift",
    "performance",
    "calibration",
    "champion-challenger",
    "default-rates",
    "expected-loss",
    "what-if",
]
PLOTS = [
    "score-drift",
    "feature-drift",
    "roc",
    "calibration",
    "champion-challenger",
    "default-rates",
    "fairness",
    "expected-loss",
    "what-if",
]


@pytest.fixture(scope="module")
def report_file(
    tmp_path_factory: pytest.TempPathFactory,
    all_pairs: pd.DataFrame,
    held_out: HeldOut,
    model_dir: Path,
) -> Path:
    """The report written by the CLI from a pairs file and the scored applications."""
    work = tmp_path_factory.mktemp("report")
    pairs_file = write_pairs(all_pairs, work / "pairs.csv")
    applications = work / "applications.jsonl"
    applications.write_text(
        "".join(app.model_dump_json() + "\n" for app in held_out.applications), encoding="utf-8"
    )
    out = work / "impact.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--out",
            str(out),
            "--pairs",
            str(pairs_file),
            "--applications",
            str(applications),
            "--model-dir",
            str(model_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"report written to {out.resolve()}" in result.output
    return out


def test_report_is_self_contained(report_file: Path) -> None:
    text = report_file.read_text(encoding="utf-8")
    # No asset from anywhere: every src is a data URI, no link or script fetches anything.
    sources = re.findall(r'\bsrc="([^"]*)"', text)
    assert len(sources) == len(PLOTS)
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert not re.search(r"<link\b|<script\b[^>]*\bsrc=|@import|url\(", text)
    # No applicant identity: the held-out ids never appear.
    assert "credit-data-" not in text


def test_every_section_and_plot_renders_in_chromium(report_file: Path) -> None:
    dom = dump_dom(report_file)
    assert re.findall(r'<section id="([^"]+)"', dom) == SECTION_IDS
    decoded = dict(re.findall(r'data-plot="([^"]+)"[^>]*data-decoded="(\d+x\d+)"', dom))
    assert sorted(decoded) == sorted(PLOTS)
    for name, size in decoded.items():
        width, height = (int(part) for part in size.split("x"))
        assert width >= 300, f"plot {name} decoded at {size}"
        assert height >= 100, f"plot {name} decoded at {size}"


def test_screenshot_is_a_full_page_not_blank(report_file: Path, tmp_path: Path) -> None:
    shot = screenshot(report_file, tmp_path / "report.png", 1200, 2400)
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    grey = pixels[..., :3].mean(axis=2)
    # A blank page is one colour; this one has text, tables and plots over much of it.
    assert float(np.mean(grey < 0.9)) > 0.02
    assert float(grey.std()) > 0.05


def test_report_content_says_what_the_pairs_say(all_pairs: pd.DataFrame, model_dir: Path) -> None:
    policies = bundled_policies()
    html = render_report(
        ReportInput(
            pairs=all_pairs,
            card=read_card(model_dir),
            generated_at=datetime(2026, 11, 27, tzinfo=UTC),
            what_if_policies={"policy-v1": policies["policy-v1"]},
            recorded_policies=policies,
        )
    )
    card = json.loads((model_dir / "model_card.json").read_text())
    # The champion's realised AUC is the card's test AUC (same rows, same labels).
    assert f"{card['metrics']['test_roc_auc']:,.4f}" in html
    assert "from 1,780 joined pairs (890 applications with an outcome)" in html
    assert "no scored applications were given" in html.lower()  # features=None said, not hidden
    assert 'data-table="champion-challenger"' in html
    assert 'data-table="fairness-age_band"' in html
    # Fairness first-class: the card's held-out lowest ratio and its gate, in the summary.
    summary = unescape(html.split('<section id="summary">')[1].split("</section>")[0])
    assert f"{card['fairness']['lowest_impact_ratio']:.3f} on the card's held-out split" in summary
    assert "Fairness gate, champion" in summary
    assert 'data-table="fairness-before-after"' in html


def test_report_says_when_a_challenger_fails_the_fairness_gate(
    champion_pairs: pd.DataFrame, model_dir: Path
) -> None:
    card = read_card(model_dir)
    lowest = card.fairness["lowest_impact_ratio"]
    worse = card.model_copy(
        update={
            "model_version": "credit-worse",
            "fairness": {**card.fairness, "lowest_impact_ratio": lowest - 0.06},
        }
    )
    within = worse.model_copy(
        update={"fairness": {**card.fairness, "lowest_impact_ratio": lowest - 0.04}}
    )
    at = datetime(2026, 11, 27, tzinfo=UTC)
    failing = render_report(
        ReportInput(pairs=champion_pairs, card=card, generated_at=at, challenger_card=worse)
    )
    assert '<p class="flag">Promotion gate, challenger credit-worse' in failing
    assert f"fails: lowest adverse-impact ratio {lowest - 0.06:.3f}" in failing
    passing = render_report(
        ReportInput(pairs=champion_pairs, card=card, generated_at=at, challenger_card=within)
    )
    assert '<p class="ok">Promotion gate, challenger credit-worse' in passing
    # The demo prints the same, as text: every group with its default rate, and the gate.
    lines = card_fairness_lines(card, worse)
    assert lines[-1].startswith("  FAILED: Promotion gate, challenger credit-worse")
    groups = [
        row for name in ("age_band", "marital_status") for row in card.fairness["groups"][name]
    ]
    assert len(lines) == 2 + len(groups) + 1
    assert any(f"{groups[0]['default_rate']:.1%}" in line for line in lines)


def test_report_without_challenger_or_policies_says_so(
    champion_pairs: pd.DataFrame, model_dir: Path
) -> None:
    html = render_report(
        ReportInput(
            pairs=champion_pairs,
            card=read_card(model_dir),
            generated_at=datetime(2026, 11, 27, tzinfo=UTC),
        )
    )
    assert "there is no challenger" in html
    assert "No alternative policy was given." in html


def test_report_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "exactly one of --pairs FILE and --from-dataset" in result.output


def test_report_input_from_the_data_set_has_features_and_default_what_ifs(
    model_dir: Path, champion_pairs: pd.DataFrame
) -> None:
    data = build_report_input(
        pairs_path=None,
        model_dir=model_dir,
        what_if_policy_paths=[],
        what_if_approve_below=None,
        lgd=0.45,
        generated_at=datetime(2026, 11, 27, tzinfo=UTC),
    )
    pd.testing.assert_frame_equal(data.pairs, champion_pairs)
    assert data.features is not None
    assert data.features.shape[0] == len(champion_pairs)
    # Every other bundled policy, and the recorded one with the approve cut-off moved both ways.
    assert sorted(data.what_if_policies) == [
        "policy-v1",
        "policy-v2 approve<0.15",
        "policy-v2 approve<0.25",
    ]
    assert data.what_if_policies["policy-v2 approve<0.25"].cutoffs.approve_below == 0.25


def test_canary_applications_are_paired_too(all_pairs: pd.DataFrame, model_dir: Path) -> None:
    """Half the applications decided by the challenger as canary (the champion in shadow on
    those): the comparison still pairs all 890, whatever the role."""
    frame = all_pairs.copy()
    ids = sorted(frame["application_id"].unique())
    canary_ids = set(ids[::2])
    on_canary = frame["application_id"].isin(canary_ids)
    is_champion = frame["role"] == "champion"
    frame.loc[on_canary & is_champion, "role"] = "shadow"
    frame.loc[on_canary & ~is_champion, "role"] = "canary"
    html = render_report(
        ReportInput(
            pairs=frame,
            card=read_card(model_dir),
            generated_at=datetime(2026, 11, 27, tzinfo=UTC),
        )
    )
    table = html[html.index('data-table="champion-challenger"') :]
    table = table[: table.index("</table>")]
    assert "<td>890</td>" in table
    assert "(canary)" in html
    assert "(shadow)" in html
