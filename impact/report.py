"""`loan-scorer report`: one self-contained HTML file a risk analyst can open anywhere.

This module assembles the document: the summary, then every section in `SECTIONS` order under
one inline style sheet. The sections live by what they judge (`impact.report_drift`,
`impact.report_model_metrics`, `impact.report_fairness`, `impact.report_business_metrics`) and
are built from the fragments of `impact.report_html`.

Every plot is a PNG inlined as a data URI and the style sheet is inline, so the file needs no
network and no server: it can be mailed, archived with the model card, or opened offline. Each
section is a `<section id=...>` and each plot an `<img data-plot=...>`, so a browser test can
check from the DOM that nothing is missing.

Inputs (`impact.report_inputs.ReportInput`) are a joined-pair frame (`impact.pairs`), the
champion's model card (its training baseline for drift), optionally the scored applications (for
feature drift), and the policies to compare in the what-if. Tables are escaped by pandas; no
applicant identity is ever printed (the frame holds bands, not people, and application ids are
not shown).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Final

import pandas as pd

from impact.pairs import ACTING_ROLES, validate_pairs
from impact.report_business_metrics import expected_loss_section, what_if_section
from impact.report_drift import feature_drift_section, score_drift_section
from impact.report_fairness import fairness_section, fairness_summary
from impact.report_html import paragraph, version_role_label
from impact.report_inputs import ReportInput
from impact.report_model_metrics import (
    calibration_section,
    champion_challenger_section,
    default_rates_section,
    performance_section,
)

# Section id -> heading, in reading order.
SECTIONS: Final[Mapping[str, str]] = {
    "summary": "Summary",
    "fairness": "Fairness: adverse-impact ratios, default rates and the promotion gate",
    "score-drift": "Score drift",
    "feature-drift": "Feature drift",
    "performance": "Realised performance per version and role",
    "calibration": "Calibration",
    "champion-challenger": "Champion vs challenger",
    "default-rates": "Default rate by grade and by decision",
    "expected-loss": "Expected loss of the approved book",
    "what-if": "What-if: the same applications under other policies",
}

_STYLE: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1f2933;line-height:1.45;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2rem;
margin-top:2.2rem}nav a{margin-right:.8rem;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:right}
th{background:#f3f5f7}td:first-child,th:first-child{text-align:left}
img.plot{max-width:100%;display:block;margin:.5rem 0 1rem;border:1px solid #eef0f2}
.note{color:#52606d;font-size:.9rem}.flag{color:#b42318;font-weight:600}
.ok{color:#067647;font-weight:600}
"""

# Marks each plot with the size the browser decoded it at, so a headless browser's DOM dump shows
# that every image really rendered (a broken data URI decodes to 0 x 0). No network, no library.
_MARK_DECODED: Final = (
    "for(const i of document.images){const m=()=>i.setAttribute('data-decoded',"
    "i.naturalWidth+'x'+i.naturalHeight);i.complete?m():i.addEventListener('load',m);}"
)


def _champion_version(pairs: pd.DataFrame) -> str:
    champions = pairs.loc[pairs["role"] == "champion", "model_version"]
    if champions.empty:
        raise ValueError("the pairs hold no champion score")
    return str(champions.value_counts().index[0])


def _summary(data: ReportInput, champion: str) -> str:
    pairs = data.pairs
    acting = pairs[pairs["role"].isin(ACTING_ROLES)]
    versions = ", ".join(
        version_role_label(str(v), str(r))
        for v, r in pairs[["model_version", "role"]].drop_duplicates().itertuples(index=False)
    )
    lines = [
        f"Generated {data.generated_at.isoformat(timespec='seconds')} from {len(pairs):,} joined "
        f"pairs ({acting['application_id'].nunique():,} applications with an outcome).",
        f"Champion: {champion}. Scores present: {versions}.",
        f"Outcomes observed from {pairs['observed_at'].min()} to {pairs['observed_at'].max()}; "
        f"realised default rate of acted-on applications {acting['defaulted'].mean():.1%}.",
        fairness_summary(data),
        f"Drift baseline: model card {data.card.model_version} (its training data). Loss given "
        f"default for expected loss: {data.lgd:.0%}.",
    ]
    return "".join(paragraph(line) for line in lines)


def render_report(data: ReportInput) -> str:
    """The HTML document, every section in `SECTIONS` order."""
    pairs = validate_pairs(data.pairs)
    if pairs.empty:
        raise ValueError("the report needs at least one joined pair")
    champion = _champion_version(pairs)
    bodies: dict[str, str] = {
        "summary": _summary(data, champion),
        "fairness": fairness_section(data),
        "score-drift": score_drift_section(data),
        "feature-drift": feature_drift_section(data),
        "performance": performance_section(data),
        "calibration": calibration_section(data),
        "champion-challenger": champion_challenger_section(data, champion),
        "default-rates": default_rates_section(data),
        "expected-loss": expected_loss_section(data),
        "what-if": what_if_section(data),
    }
    navigation = "".join(
        f'<a href="#{key}">{html.escape(title)}</a>' for key, title in SECTIONS.items()
    )
    sections = "".join(
        f'<section id="{key}"><h2>{html.escape(SECTIONS[key])}</h2>{bodies[key]}</section>'
        for key in SECTIONS
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>loan-scorer impact report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<header><h1>loan-scorer: model impact report</h1>"
        f"<nav>{navigation}</nav></header><main>{sections}</main>"
        f"<script>{_MARK_DECODED}</script></body></html>\n"
    )
