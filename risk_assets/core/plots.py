"""ROC and calibration plots, drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch,
so a server process or a test run is never touched by a GUI backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from risk_assets.core.metrics import calibration_by_decile, roc_auc


def _figure() -> Figure:
    figure = Figure(figsize=(6.4, 5.2), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def roc_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0) to (1, 1): scikit-learn's
    ROC curve with every point kept."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y, dtype=int), np.asarray(score, dtype=float), drop_intermediate=False)
    return fpr, tpr


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str) -> Figure:
    """One ROC curve per model (name -> (y, score where higher = riskier)), AUC in the legend."""
    figure = _figure()
    axes = figure.add_subplot()
    for name, (y, score) in curves.items():
        fpr, tpr = roc_points(y, score)
        axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(y, score):.3f}, n={len(y)})", linewidth=1.4)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="false positive rate (non-defaults flagged)",
        ylabel="true positive rate (defaults caught)",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    axes.legend(loc="lower right", fontsize=7)
    figure.tight_layout()
    return figure


def calibration_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str) -> Figure:
    """Observed default rate against mean PD per decile of PD (log scales), the diagonal is perfect."""
    figure = _figure()
    axes = figure.add_subplot()
    low, high = 1.0, 0.0
    for name, (y, p) in curves.items():
        table = calibration_by_decile(y, p)
        observed = table["observed_rate"].to_numpy()
        mean_pd = table["mean_pd"].to_numpy()
        shown = observed > 0
        axes.plot(mean_pd[shown], observed[shown], marker="o", markersize=3, linewidth=1.2, label=name)
        low, high = min(low, mean_pd.min()), max(high, mean_pd.max(), observed.max())
    low = max(low * 0.5, 1e-4)
    axes.plot([low, 1], [low, 1], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="mean PD in the decile",
        ylabel="observed default rate",
        title=title + " (deciles with no default not drawn)",
        xlim=(low, min(1, high * 2)),
        ylim=(low, min(1, high * 2)),
    )
    axes.legend(loc="upper left", fontsize=7)
    figure.tight_layout()
    return figure


def save(figure: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    return target
