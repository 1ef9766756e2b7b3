"""The report beside the card: ROC, calibration and score distribution, as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, no display; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from training.evaluation import ECE_BINS

FloatVector = npt.NDArray[np.float64]
IntVector = npt.NDArray[np.int64]


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path


def roc_plot(labels: IntVector, pd: FloatVector, auc: float, path: Path) -> Path:
    fpr, tpr, _ = roc_curve(labels, pd)
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(
        xlabel="False positive rate (good loans flagged)",
        ylabel="True positive rate (defaults caught)",
        title="ROC on the held-out test split",
    )
    axes.legend(loc="lower right")
    return _save(figure, path)


def calibration_plot(labels: IntVector, pd: FloatVector, ece: float, path: Path) -> Path:
    index = np.minimum((pd * ECE_BINS).astype(np.intp), ECE_BINS - 1)
    count = np.bincount(index, minlength=ECE_BINS)
    used = count > 0
    mean_pd = np.bincount(index, weights=pd, minlength=ECE_BINS)[used] / count[used]
    rate = (
        np.bincount(index, weights=labels.astype(np.float64), minlength=ECE_BINS)[used]
        / count[used]
    )
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(mean_pd, rate, marker="o", label=f"model (ECE {ece:.3f})")
    for x, y, n in zip(mean_pd, rate, count[used], strict=True):
        axes.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axes.set(
        xlabel="Mean predicted PD in bin",
        ylabel="Observed default rate",
        title="Calibration on the test split (10 bins, n per bin)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left")
    return _save(figure, path)


def score_distribution_plot(labels: IntVector, pd: FloatVector, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6, 4))
    bins = [i / 40 for i in range(41)]
    axes.hist(pd[labels == 0], bins=bins, alpha=0.6, density=True, label="good (repaid)")
    axes.hist(pd[labels == 1], bins=bins, alpha=0.6, density=True, label="bad (defaulted)")
    axes.set(
        xlabel="Predicted probability of default",
        ylabel="Density",
        title="Score distribution by outcome, test split",
    )
    axes.legend()
    return _save(figure, path)


def write_report(
    out_dir: Path, labels: IntVector, pd: FloatVector, metrics: dict[str, float]
) -> list[Path]:
    return [
        roc_plot(labels, pd, metrics["test_roc_auc"], out_dir / "roc.png"),
        calibration_plot(labels, pd, metrics["test_ece"], out_dir / "calibration.png"),
        score_distribution_plot(labels, pd, out_dir / "score_distribution.png"),
    ]
