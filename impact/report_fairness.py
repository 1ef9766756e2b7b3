"""The report's fairness section: the promotion gate, the model card's held-out table before
and after marital status and age left the model, and realised approval and default rates by age
band and marital status.

Groups are judged by the adverse-impact ratio against the four-fifths rule of `impact.fairness`,
the one the outcomes joiner alerts on and promotion gates on, so a group the report flags is the
group the alert names.
"""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import pandas as pd

from impact.fairness import FOUR_FIFTHS, adverse_impact, lowest_ratio
from impact.pairs import ACTING_ROLES, AGE_BANDS
from impact.report_html import paragraph, plot_image, table_html
from impact.report_inputs import ReportInput
from scoring.card import ModelCard
from scoring.fairness import fairness_gate


def gate_line(card: ModelCard, challenger_card: ModelCard | None) -> tuple[bool, str]:
    """The promotion gate as the report and the demo state it: the challenger against the
    champion when a challenger's card was given, else the champion against the previous feature
    set (with marital status and age) measured on the same held-out split."""
    champion = card.fairness
    if challenger_card is not None:
        challenger = challenger_card.fairness
        passed, verdict = fairness_gate(
            challenger["lowest_impact_ratio"], champion["lowest_impact_ratio"]
        )
        return passed, (
            f"Promotion gate, challenger {challenger_card.model_version} against champion "
            f"{card.model_version}: {verdict}."
        )
    passed, verdict = fairness_gate(
        champion["lowest_impact_ratio"], champion["before"]["lowest_impact_ratio"]
    )
    return passed, (
        f"Fairness gate, champion {card.model_version} against the same recipe with marital "
        f"status and age as inputs (held-out split): {verdict}."
    )


def card_fairness_lines(card: ModelCard, challenger_card: ModelCard | None) -> list[str]:
    """The card's held-out fairness as plain text lines (the demo prints them): per group, the
    adverse-impact ratio before and after, and the default rate to read it against; the gate."""
    fairness = card.fairness
    table = before_after_table(card)
    lines = [
        f"fairness on the {fairness['split']} (model card {card.model_version}): lowest "
        f"adverse-impact ratio {fairness['lowest_impact_ratio']:.3f}, before marital status and "
        f"age left the model {fairness['before']['lowest_impact_ratio']:.3f}",
        f"  {'group':<26} {'n':>4} {'default':>8} {'ratio before':>13} {'ratio after':>12}",
    ]
    for row in table.to_dict("records"):
        flag = "  below 4/5" if row["below_four_fifths"] else ""
        group = f"{row['attribute']}={row['group']}"
        lines.append(
            f"  {group:<26} {row['count']:>4} {row['default_rate']:>8.1%} "
            f"{row['ratio_before']:>13.2f} {row['ratio_after']:>12.2f}{flag}"
        )
    passed, line = gate_line(card, challenger_card)
    lines.append(("  PASSED: " if passed else "  FAILED: ") + line)
    return lines


def before_after_table(card: ModelCard) -> pd.DataFrame:
    """The card's held-out table, one row per group: default rate, then approval rate and
    adverse-impact ratio before and after the protected fields left the model."""
    rows = []
    after, before = card.fairness["groups"], card.fairness["before"]["groups"]
    for attribute in ("age_band", "marital_status"):
        earlier = {row["group"]: row for row in before[attribute]}
        for row in after[attribute]:
            old = earlier[row["group"]]
            rows.append(
                {
                    "attribute": attribute,
                    "group": row["group"],
                    "count": row["count"],
                    "default_rate": row["default_rate"],
                    "approval_before": old["approval_rate"],
                    "ratio_before": old["impact_ratio"],
                    "approval_after": row["approval_rate"],
                    "ratio_after": row["impact_ratio"],
                    "below_four_fifths": row["below_four_fifths"],
                }
            )
    return pd.DataFrame(rows)


def _held_out_part(data: ReportInput) -> str:
    card = data.card.fairness
    passed, line = gate_line(data.card, data.challenger_card)
    return (
        paragraph(line, "ok" if passed else "flag")
        + paragraph(
            f"Model card, {card['split']}: lowest adverse-impact ratio "
            f"{card['lowest_impact_ratio']:.3f} (groups of 30 or more), "
            f"{card['before']['lowest_impact_ratio']:.3f} before marital status and age left the "
            f"model; test AUC {card['test_roc_auc']:.4f} against "
            f"{card['before']['test_roc_auc']:.4f}. A ratio below {FOUR_FIFTHS} is read against "
            "the group's default rate beside it."
        )
        + table_html(before_after_table(data.card), "fairness-before-after")
    )


def fairness_section(data: ReportInput) -> str:
    """The gate and the card's before/after table; then per group attribute on the realised
    pairs: the adverse-impact table, the groups flagged, and one plot of both."""
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    parts: list[str] = [
        _held_out_part(data)
        + "<h3>realised outcomes</h3>"
        + paragraph(
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
            paragraph(f"Below four-fifths: {', '.join(flagged)}.", "flag")
            if flagged
            else paragraph("No group below four-fifths.", "ok")
        )
        parts.append(table_html(table, f"fairness-{column}"))
    return (
        "".join(parts[:1])
        + plot_image(figure, "fairness", "adverse-impact ratios")
        + "".join(parts[1:])
    )


def fairness_summary(data: ReportInput) -> str:
    """One line for the report's summary: the realised lowest ratio, the card's, and the gate."""
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    realised = min(lowest_ratio(adverse_impact(acting, c)) for c in ("age_band", "marital_status"))
    _, line = gate_line(data.card, data.challenger_card)
    return (
        f"Fairness: lowest adverse-impact ratio {realised:.3f} on these pairs, "
        f"{data.card.fairness['lowest_impact_ratio']:.3f} on the card's held-out split "
        f"(four-fifths: {FOUR_FIFTHS}). {line}"
    )
