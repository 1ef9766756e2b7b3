"""The report's fairness section: approval rates by age band and marital status.

Groups are judged by the adverse-impact ratio against the four-fifths rule of `impact.fairness`,
the one the outcomes joiner alerts on, so a group the report flags is the group the alert names.
"""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import pandas as pd

from impact.fairness import FOUR_FIFTHS, adverse_impact
from impact.pairs import ACTING_ROLES, AGE_BANDS
from impact.report_html import paragraph, plot_image, table_html
from impact.report_inputs import ReportInput


def fairness_section(data: ReportInput) -> str:
    """Per group attribute: the adverse-impact table, the groups flagged, and one plot of both."""
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    parts: list[str] = [
        paragraph(
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
