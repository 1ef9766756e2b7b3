"""The report's model sections: is the model right on realised outcomes?

Discrimination and calibration per version and role, the champion against each challenger on
the same applications, and realised default rates by grade and decision. Each section draws its
numbers from the metric modules (`impact.performance`, `impact.calibration`,
`impact.discrimination`, `impact.rates`), the ones the outcomes joiner exports, and only plots
and words them here.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd

from impact.calibration import calibration_curve
from impact.discrimination import AucDifference, delong_auc_difference, paired_scores
from impact.pairs import ACTING_ROLES
from impact.performance import performance_by_version
from impact.rates import default_rate_by
from impact.report_html import paragraph, plot_image, table_html, version_role_label
from impact.report_inputs import ReportInput


def performance_section(data: ReportInput) -> str:
    """The per-version metric table and each version's realised ROC curve."""
    table = performance_by_version(data.pairs, data.lgd)
    figure, axis = plt.subplots(figsize=(6.5, 5))
    for (version, role), group in data.pairs.groupby(["model_version", "role"], sort=True):
        fpr, tpr = _roc_points(group["defaulted"].to_numpy(), group["pd"].to_numpy())
        axis.plot(fpr, tpr, label=version_role_label(str(version), str(role)))
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set_xlabel("repaid loans above the cut (false positive rate)")
    axis.set_ylabel("defaulted loans above the cut (true positive rate)")
    axis.set_title("Realised ROC")
    axis.legend(fontsize=8)
    columns = ["model_version", "role", "count", "defaults", "roc_auc", "ks", "brier", "ece"]
    shown = table[[*columns, "approval_rate", "default_rate", "approved_default_rate"]]
    return (
        paragraph(
            "Discrimination (AUC, KS) and calibration (Brier, ECE over 10 PD bins) on realised "
            "outcomes; a shadow row is what the challenger would have done."
        )
        + table_html(shown, "performance")
        + plot_image(figure, "roc", "ROC curves per version and role")
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


def calibration_section(data: ReportInput) -> str:
    """Each version's calibration curve, plotted and tabled bin by bin."""
    figure, axis = plt.subplots(figsize=(6.5, 5))
    rows = []
    for (version, role), group in data.pairs.groupby(["model_version", "role"], sort=True):
        curve = calibration_curve(group["defaulted"].to_numpy(dtype=np.float64), group["pd"])
        label = version_role_label(str(version), str(role))
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
        paragraph(
            "Points on the diagonal mean the PD is what happened; above it, risk is underestimated."
        )
        + plot_image(figure, "calibration", "calibration curve")
        + table_html(table, "calibration")
    )


def champion_challenger_section(data: ReportInput, champion: str) -> str:
    """DeLong's AUC difference of `champion` against each other version, with a verdict."""
    challengers = sorted(set(data.pairs["model_version"]) - {champion})
    if not challengers:
        return paragraph(
            "Only the champion scored these applications: there is no challenger.", "note"
        )
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
        return paragraph("No application was scored by both the champion and a challenger.", "note")
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
        paragraph(
            f"Paired on the same applications (DeLong's test for correlated AUCs). A positive "
            f"difference favours the champion {champion}."
        )
        + table_html(table, "champion-challenger")
        + plot_image(figure, "champion-challenger", "AUC difference with confidence interval")
        + "".join(paragraph(line) for line in verdicts)
    )


def _difference_verdict(result: AucDifference) -> str:
    if result.high < 0:
        return "the challenger ranks risk better (the interval lies below 0)"
    if result.low > 0:
        return "the champion ranks risk better (the interval lies above 0)"
    return "no significant difference at 95 %"


def default_rates_section(data: ReportInput) -> str:
    """Realised default rate of the acted-on scores by grade (against mean PD) and decision."""
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
        paragraph(
            "Acted-on scores only (champion and canary). Declined and reviewed applications have "
            "outcomes here only where the data holds one (in production, reviewed loans a "
            "credit officer approved)."
        )
        + plot_image(figure, "default-rates", "default rate by grade and decision")
        + table_html(by_grade, "default-rate-by-grade")
        + table_html(by_decision, "default-rate-by-decision")
    )
