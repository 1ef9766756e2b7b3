"""`loan-scorer report`: one self-contained HTML file a risk analyst can open anywhere.

Every plot is a PNG inlined as a data URI and the style sheet is inline, so the file needs no
network and no server: it can be mailed, archived with the model card, or opened offline. Each
section is a `<section id=...>` and each plot an `<img data-plot=...>`, so a browser test can
check from the DOM that nothing is missing.

Inputs are a joined-pair frame (`impact.pairs`), the champion's model card (its training
baseline for drift), optionally the scored applications (for feature drift), and the policies to
compare in the what-if. Tables are escaped by pandas; no applicant identity is ever printed (the
frame holds bands, not people, and application ids are not shown).
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from impact.metrics import (
    DEFAULT_LGD,
    FOUR_FIFTHS,
    AucDifference,
    adverse_impact,
    calibration_curve,
    default_rate_by,
    delong_auc_difference,
    paired_scores,
    performance_by_version,
    what_if,
)
from impact.pairs import ACTING_ROLES, AGE_BANDS, validate_pairs
from scoring.card import ModelCard
from scoring.drift import SCORE, BinLayout, card_layout
from scoring.features import FEATURE_NAMES
from scoring.policy import Policy

logger = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float64]

# Section id -> heading, in reading order.
SECTIONS: Final[Mapping[str, str]] = {
    "summary": "Summary",
    "score-drift": "Score drift",
    "feature-drift": "Feature drift",
    "performance": "Realised performance per version and role",
    "calibration": "Calibration",
    "champion-challenger": "Champion vs challenger",
    "default-rates": "Default rate by grade and by decision",
    "fairness": "Fairness by age band and marital status",
    "expected-loss": "Expected loss of the approved book",
    "what-if": "What-if: the same applications under other policies",
}
PSI_WATCH: Final = 0.1
PSI_ALERT: Final = 0.25  # as the LoanScorerDriftHigh alert

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


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything the report reads; built by the CLI or a test, never read from disk here."""

    pairs: pd.DataFrame
    card: ModelCard
    generated_at: datetime
    features: FloatMatrix | None = None  # of the scored applications, FEATURE_NAMES order
    what_if_policies: Mapping[str, Policy] = field(default_factory=dict)
    recorded_policies: Mapping[str, Policy] = field(default_factory=dict)
    lgd: float = DEFAULT_LGD


def _png(figure: Figure, name: str, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<img class="plot" data-plot="{html.escape(name)}" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{data}">'
    )


def _table(frame: pd.DataFrame, name: str) -> str:
    body = frame.to_html(
        index=False, border=0, float_format=lambda value: f"{value:,.4f}", na_rep="n/a"
    )
    return body.replace(
        '<table class="dataframe">', f'<table class="dataframe" data-table="{name}">'
    )


def _p(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{html.escape(text)}</p>"


def _label(version: str, role: str) -> str:
    return f"{version} ({role})"


def _champion_version(pairs: pd.DataFrame) -> str:
    champions = pairs.loc[pairs["role"] == "champion", "model_version"]
    if champions.empty:
        raise ValueError("the pairs hold no champion score")
    return str(champions.value_counts().index[0])


# --- sections -------------------------------------------------------------------------------


def _summary(data: ReportInput, champion: str) -> str:
    pairs = data.pairs
    acting = pairs[pairs["role"].isin(ACTING_ROLES)]
    versions = ", ".join(
        _label(str(v), str(r))
        for v, r in pairs[["model_version", "role"]].drop_duplicates().itertuples(index=False)
    )
    lines = [
        f"Generated {data.generated_at.isoformat(timespec='seconds')} from {len(pairs):,} joined "
        f"pairs ({acting['application_id'].nunique():,} applications with an outcome).",
        f"Champion: {champion}. Scores present: {versions}.",
        f"Outcomes observed from {pairs['observed_at'].min()} to {pairs['observed_at'].max()}; "
        f"realised default rate of acted-on applications {acting['defaulted'].mean():.1%}.",
        f"Drift baseline: model card {data.card.model_version} (its training data). Loss given "
        f"default for expected loss: {data.lgd:.0%}.",
    ]
    return "".join(_p(line) for line in lines)


def _score_drift(data: ReportInput) -> str:
    baseline = data.card.baseline[SCORE]
    layout = BinLayout({SCORE: baseline})
    counted = layout.count(data.pairs.loc[data.pairs["role"].isin(ACTING_ROLES), ["pd"]].to_numpy())
    psi = float(layout.psi(counted)[0])
    expected = np.asarray(baseline["proportions"], dtype=np.float64)
    actual = counted.counts[: expected.size] / max(counted.observations, 1)
    cuts = [f"{c:.3f}" for c in baseline["cuts"]]
    labels = [f"<= {cuts[0]}", *[f"<= {c}" for c in cuts[1:]], f"> {cuts[-1]}"]
    figure, axis = plt.subplots(figsize=(9, 3.4))
    x = np.arange(expected.size)
    axis.bar(x - 0.2, expected, width=0.4, label="training baseline")
    axis.bar(x + 0.2, actual, width=0.4, label="acted-on scores")
    axis.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    axis.set_ylabel("share of applications")
    axis.set_title(f"Probability of default: PSI {psi:.3f}")
    axis.legend()
    verdict = _psi_verdict(psi)
    return _p(f"Population stability index of the acted-on PDs: {psi:.4f} ({verdict}).") + _png(
        figure, "score-drift", "score distribution against the training baseline"
    )


def _psi_verdict(psi: float) -> str:
    if psi > PSI_ALERT:
        return "a shift the model was not trained for: the drift alert fires above 0.25"
    if psi > PSI_WATCH:
        return "worth a look"
    return "stable"


def _feature_drift(data: ReportInput) -> str:
    if data.features is None:
        return _p(
            "No scored applications were given (--applications), so feature drift is not "
            "computed here; the scorer exports it live as loan_scorer_feature_psi.",
            "note",
        )
    layout = card_layout(data.card)
    scores = np.full((data.features.shape[0], 1), np.nan)
    psi = layout.psi(layout.count(np.hstack([data.features, scores])))[: len(FEATURE_NAMES)]
    table = pd.DataFrame({"feature": list(FEATURE_NAMES), "psi": psi}).sort_values(
        "psi", ascending=False, ignore_index=True
    )
    figure, axis = plt.subplots(figsize=(9, 7))
    axis.barh(table["feature"][::-1], table["psi"][::-1], color="#4c78a8")
    axis.axvline(PSI_WATCH, color="#e3a008", linestyle="--", label="0.1 worth a look")
    axis.axvline(PSI_ALERT, color="#b42318", linestyle="--", label="0.25 alert")
    axis.set_xlabel("population stability index")
    axis.tick_params(axis="y", labelsize=7)
    axis.legend()
    worst = table.iloc[0]
    return (
        _p(
            f"{len(data.features):,} scored applications against the card's training baseline; "
            f"largest PSI {worst['psi']:.4f} ({worst['feature']}): {_psi_verdict(worst['psi'])}."
        )
        + _png(figure, "feature-drift", "PSI per feature")
        + _table(table.head(10), "feature-drift")
    )


def _performance(data: ReportInput) -> str:
    table = performance_by_version(data.pairs, data.lgd)
    figure, axis = plt.subplots(figsize=(6.5, 5))
    for (version, role), group in data.pairs.groupby(["model_version", "role"], sort=True):
        fpr, tpr = _roc_points(group["defaulted"].to_numpy(), group["pd"].to_numpy())
        axis.plot(fpr, tpr, label=_label(str(version), str(role)))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set_xlabel("repaid loans above the cut (false positive rate)")
    axis.set_ylabel("defaulted loans above the cut (true positive rate)")
    axis.set_title("Realised ROC")
    axis.legend(fontsize=8)
    columns = ["model_version", "role", "count", "defaults", "roc_auc", "ks", "brier", "ece"]
    shown = table[[*columns, "approval_rate", "default_rate", "approved_default_rate"]]
    return (
        _p(
            "Discrimination (AUC, KS) and calibration (Brier, ECE over 10 PD bins) on realised "
            "outcomes; a shadow row is what the challenger would have done."
        )
        + _table(shown, "performance")
        + _png(figure, "roc", "ROC curves per version and role")
    )


def _roc_points(
    defaulted: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    order = np.argsort(-scores, kind="stable")
    y = defaulted[order].astype(np.float64)
    s = scores[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    positives, negatives = max(y.sum(), 1.0), max(y.size - y.sum(), 1.0)
    return np.r_[0.0, fp / negatives], np.r_[0.0, tp / positives]


def _calibration(data: ReportInput) -> str:
    figure, axis = plt.subplots(figsize=(6.5, 5))
    rows = []
    for (version, role), group in data.pairs.groupby(["model_version", "role"], sort=True):
        curve = calibration_curve(group["defaulted"].to_numpy(dtype=np.float64), group["pd"])
        label = _label(str(version), str(role))
        axis.plot(curve["mean_pd"], curve["default_rate"], marker="o", label=label)
        rows.append(curve.assign(model_version=str(version), role=str(role)))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    axis.set_xlabel("mean predicted PD in the bin")
    axis.set_ylabel("realised default rate")
    axis.set_title("Calibration curve (10 equal-width PD bins)")
    axis.legend(fontsize=8)
    table = pd.concat(rows, ignore_index=True)[
        ["model_version", "role", "bin_low", "bin_high", "count", "mean_pd", "default_rate"]
    ]
    return (
        _p("Points on the diagonal mean the PD is what happened; above it, risk is underestimated.")
        + _png(figure, "calibration", "calibration curve")
        + _table(table, "calibration")
    )


def _champion_challenger(data: ReportInput, champion: str) -> str:
    challengers = sorted(set(data.pairs["model_version"]) - {champion})
    if not challengers:
        return _p("Only the champion scored these applications: there is no challenger.", "note")
    results: list[tuple[str, AucDifference]] = []
    for challenger in challengers:
        # Every role: on a canary's applications the champion scores in shadow, and vice versa.
        both = paired_scores(data.pairs, champion, challenger)
        if both.empty or both["defaulted"].nunique() < 2:
            continue
        results.append(
            (
                challenger,
                delong_auc_difference(
                    both["defaulted"].to_numpy(dtype=np.float64),
                    both["pd_champion"],
                    both["pd_challenger"],
                ),
            )
        )
    if not results:
        return _p("No application was scored by both the champion and a challenger.", "note")
    table = pd.DataFrame(
        [
            {
                "challenger": name,
                "applications": r.count,
                "defaults": r.defaults,
                "champion_auc": r.champion_auc,
                "challenger_auc": r.challenger_auc,
                "difference": r.difference,
                "ci95_low": r.low,
                "ci95_high": r.high,
                "p_value": r.p_value,
            }
            for name, r in results
        ]
    )
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.8 * len(results)))
    y = np.arange(len(results))
    differences = np.array([r.difference for _, r in results])
    errors = np.array(
        [[r.difference - r.low for _, r in results], [r.high - r.difference for _, r in results]]
    )
    axis.errorbar(differences, y, xerr=errors, fmt="o", capsize=6)
    axis.axvline(0, color="grey", linestyle=":")
    axis.set_yticks(y, [name for name, _ in results])
    axis.set_xlabel(f"AUC of {champion} minus challenger (95 % DeLong interval)")
    verdicts = [f"{name}: {_difference_verdict(r)}" for name, r in results]
    return (
        _p(
            f"Paired on the same applications (DeLong's test for correlated AUCs). A positive "
            f"difference favours the champion {champion}."
        )
        + _table(table, "champion-challenger")
        + _png(figure, "champion-challenger", "AUC difference with confidence interval")
        + "".join(_p(line) for line in verdicts)
    )


def _difference_verdict(result: AucDifference) -> str:
    if result.high < 0:
        return "the challenger ranks risk better (the interval lies below 0)"
    if result.low > 0:
        return "the champion ranks risk better (the interval lies above 0)"
    return "no significant difference at 95 %"


def _default_rates(data: ReportInput) -> str:
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    by_grade = default_rate_by(acting, "grade")
    by_decision = default_rate_by(acting, "decision")
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.bar(by_grade["grade"], by_grade["default_rate"], label="realised")
    left.plot(by_grade["grade"], by_grade["mean_pd"], "k_", markersize=22, label="mean PD")
    left.set_title("by grade")
    left.set_ylabel("default rate")
    left.legend(fontsize=8)
    right.bar(by_decision["decision"], by_decision["default_rate"], color="#f58518")
    right.set_title("by decision")
    return (
        _p(
            "Acted-on scores only (champion and canary). Declined and reviewed applications have "
            "outcomes here only where the data holds one (in production, reviewed loans a "
            "credit officer approved)."
        )
        + _png(figure, "default-rates", "default rate by grade and decision")
        + _table(by_grade, "default-rate-by-grade")
        + _table(by_decision, "default-rate-by-decision")
    )


def _fairness(data: ReportInput) -> str:
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    parts: list[str] = [
        _p(
            f"Approval rate and realised default rate per group; the adverse-impact ratio is a "
            f"group's approval rate over the most favoured group's. Below {FOUR_FIFTHS} (the "
            f"four-fifths rule) a group is flagged. Groups under 30 applications are shown, "
            f"never flagged."
        )
    ]
    # Bands in their natural order (<25 first), not in the order their labels sort.
    acting = acting.assign(
        age_band=pd.Categorical(acting["age_band"], categories=AGE_BANDS, ordered=True)
    )
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for axis, column in zip(axes, ("age_band", "marital_status"), strict=True):
        table = adverse_impact(acting, column)
        colours = ["#b42318" if flag else "#4c78a8" for flag in table["below_four_fifths"]]
        axis.bar(table[column].astype(str), table["impact_ratio"], color=colours)
        axis.axhline(FOUR_FIFTHS, color="#b42318", linestyle="--", label="four-fifths")
        axis.set_title(f"adverse-impact ratio by {column.replace('_', ' ')}")
        axis.set_ylim(0, 1.15)
        axis.legend(fontsize=8)
        flagged = table.loc[table["below_four_fifths"], column].astype(str).tolist()
        parts.append(f"<h3>{html.escape(column.replace('_', ' '))}</h3>")
        parts.append(
            _p(f"Below four-fifths: {', '.join(flagged)}.", "flag")
            if flagged
            else _p("No group below four-fifths.", "ok")
        )
        parts.append(_table(table, f"fairness-{column}"))
    return (
        "".join(parts[:1]) + _png(figure, "fairness", "adverse-impact ratios") + "".join(parts[1:])
    )


def _expected_loss(data: ReportInput) -> str:
    columns = ["model_version", "role", "approval_rate", "approved_default_rate"]
    table = performance_by_version(data.pairs, data.lgd)[
        [*columns, "expected_loss", "realised_loss"]
    ]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    labels = [_label(v, r) for v, r in zip(table["model_version"], table["role"], strict=True)]
    x = np.arange(len(labels))
    axis.bar(x - 0.2, table["expected_loss"], width=0.4, label="expected (PD x exposure x LGD)")
    axis.bar(x + 0.2, table["realised_loss"], width=0.4, label="realised (defaults x LGD)")
    axis.set_xticks(x, labels, fontsize=8)
    axis.set_ylabel("loss, in the loan amount's unit")
    axis.legend(fontsize=8)
    return (
        _p(
            f"Expected loss of each approved book at LGD {data.lgd:.0%} (a setting: the data set "
            f"records no recoveries), beside what the defaults of that book cost at the same LGD."
        )
        + _table(table, "expected-loss")
        + _png(figure, "expected-loss", "expected and realised loss")
    )


def _what_if(data: ReportInput) -> str:
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    if not data.what_if_policies:
        return _p("No alternative policy was given.", "note")
    result = what_if(acting, data.what_if_policies, data.recorded_policies, data.lgd)
    summary = result.summary
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    bottom = np.zeros(len(summary))
    for decision, colour in (("approve", "#54a24b"), ("review", "#eeca3b"), ("decline", "#e45756")):
        counts = summary[f"{decision}_count"].to_numpy(dtype=np.float64)
        left.bar(summary["policy"], counts, bottom=bottom, label=decision, color=colour)
        bottom += counts
    left.set_title("decisions")
    left.legend(fontsize=8)
    left.tick_params(axis="x", labelsize=8)
    right.bar(summary["policy"], summary["expected_loss"], label="expected", alpha=0.8)
    right.plot(summary["policy"], summary["realised_loss"], "ko", label="realised")
    right.set_title("loss of the approved book")
    right.legend(fontsize=8)
    right.tick_params(axis="x", labelsize=8)
    notes = [
        _p(
            f"{label}: its rules {', '.join(codes)} cannot be re-derived from recorded scores and "
            f"are left out (rescore the applications to include them).",
            "note",
        )
        for label, codes in result.not_evaluated.items()
        if codes
    ]
    changed = {
        label: int(
            (result.decisions[f"decision_{label}"] != result.decisions["decision_recorded"]).sum()
        )
        for label in data.what_if_policies
    }
    return (
        _p(
            "The acted-on scores decided again under each policy: its PD cut-offs, then the "
            "recorded knock-outs it also has. Realised loss uses the real outcomes, so it is "
            "only as complete as the outcomes of loans the recorded policy did not approve."
        )
        + _table(summary, "what-if")
        + _p(
            "Decisions that change against the recorded ones: "
            + ", ".join(f"{label} {count:,}" for label, count in changed.items())
            + "."
        )
        + "".join(notes)
        + _png(figure, "what-if", "decisions and loss under each policy")
    )


# --- the document ---------------------------------------------------------------------------


def render_report(data: ReportInput) -> str:
    """The HTML document, every section in `SECTIONS` order."""
    pairs = validate_pairs(data.pairs)
    if pairs.empty:
        raise ValueError("the report needs at least one joined pair")
    champion = _champion_version(pairs)
    bodies: dict[str, str] = {
        "summary": _summary(data, champion),
        "score-drift": _score_drift(data),
        "feature-drift": _feature_drift(data),
        "performance": _performance(data),
        "calibration": _calibration(data),
        "champion-challenger": _champion_challenger(data, champion),
        "default-rates": _default_rates(data),
        "fairness": _fairness(data),
        "expected-loss": _expected_loss(data),
        "what-if": _what_if(data),
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


def policies_by_version(policies: Sequence[Policy]) -> dict[str, Policy]:
    return {policy.policy_version: policy for policy in policies}
