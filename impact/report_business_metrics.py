"""The report's business sections: is the model worth it in money and decisions?

Expected against realised loss of each version's approved book, and the what-if: the same
acted-on scores decided under other policies. The numbers come from `impact.performance`,
`impact.loss` and `impact.what_if`; this module only plots and words them.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are written by servers and CI

import matplotlib.pyplot as plt
import numpy as np

from impact.pairs import ACTING_ROLES
from impact.performance import performance_by_version
from impact.report_html import paragraph, plot_image, table_html, version_role_label
from impact.report_inputs import ReportInput
from impact.what_if import what_if


def expected_loss_section(data: ReportInput) -> str:
    """Expected and realised loss of each version's approved book at the report's LGD."""
    columns = ["model_version", "role", "approval_rate", "approved_default_rate"]
    table = performance_by_version(data.pairs, data.lgd)[
        [*columns, "expected_loss", "realised_loss"]
    ]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    labels = [
        version_role_label(v, r) for v, r in zip(table["model_version"], table["role"], strict=True)
    ]
    x = np.arange(len(labels))
    axis.bar(x - 0.2, table["expected_loss"], width=0.4, label="expected (PD x exposure x LGD)")
    axis.bar(x + 0.2, table["realised_loss"], width=0.4, label="realised (defaults x LGD)")
    axis.set_xticks(x, labels, fontsize=8)
    axis.set_ylabel("loss, in the loan amount's unit")
    axis.legend(fontsize=8)
    return (
        paragraph(
            f"Expected loss of each approved book at LGD {data.lgd:.0%} (a setting: the data set "
            f"records no recoveries), beside what the defaults of that book cost at the same LGD."
        )
        + table_html(table, "expected-loss")
        + plot_image(figure, "expected-loss", "expected and realised loss")
    )


def what_if_section(data: ReportInput) -> str:
    """The acted-on scores decided under each what-if policy, against the recorded decisions."""
    acting = data.pairs[data.pairs["role"].isin(ACTING_ROLES)]
    if not data.what_if_policies:
        return paragraph("No alternative policy was given.", "note")
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
        paragraph(
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
        paragraph(
            "The acted-on scores decided again under each policy: its PD cut-offs, then the "
            "recorded knock-outs it also has. Realised loss uses the real outcomes, so it is "
            "only as complete as the outcomes of loans the recorded policy did not approve."
        )
        + table_html(summary, "what-if")
        + paragraph(
            "Decisions that change against the recorded ones: "
            + ", ".join(f"{label} {count:,}" for label, count in changed.items())
            + "."
        )
        + "".join(notes)
        + plot_image(figure, "what-if", "decisions and loss under each policy")
    )
