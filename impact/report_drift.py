"""The report's drift sections: the acted-on PDs and the applications' features against the
champion card's training baseline.

Drift is measured by population stability index with the card's own bin layout
(`scoring.drift`), the layout the live scorer exports, so the report's PSI and the
LoanScorerDriftHigh alert read the same numbers against the same thresholds.
"""

from __future__ import annotations

from typing import Final

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from impact.pairs import ACTING_ROLES
from impact.report_html import paragraph, plot_image, table_html
from impact.report_inputs import ReportInput
from scoring.drift import SCORE, BinLayout, card_layout
from scoring.features import FEATURE_NAMES

PSI_WATCH: Final = 0.1
PSI_ALERT: Final = 0.25  # as the LoanScorerDriftHigh alert


def _psi_verdict(psi: float) -> str:
    if psi > PSI_ALERT:
        return "a shift the model was not trained for: the drift alert fires above 0.25"
    if psi > PSI_WATCH:
        return "worth a look"
    return "stable"


def score_drift_section(data: ReportInput) -> str:
    """The acted-on PDs binned as the card's training baseline, with their PSI."""
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
    return paragraph(
        f"Population stability index of the acted-on PDs: {psi:.4f} ({verdict})."
    ) + plot_image(figure, "score-drift", "score distribution against the training baseline")


def feature_drift_section(data: ReportInput) -> str:
    """PSI per feature of the scored applications, or a note when none were given."""
    if data.features is None:
        return paragraph(
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
        paragraph(
            f"{len(data.features):,} scored applications against the card's training baseline; "
            f"largest PSI {worst['psi']:.4f} ({worst['feature']}): {_psi_verdict(worst['psi'])}."
        )
        + plot_image(figure, "feature-drift", "PSI per feature")
        + table_html(table.head(10), "feature-drift")
    )
