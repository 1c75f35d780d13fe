"""The report's figures, one function each: drawn, titled, axes labelled, optionally saved.

Every function returns its matplotlib Figure, and with `path` also writes a full-size PNG
atomically (never a half-written image in `img/`). The backend is left to the caller:
notebooks keep theirs, scripts and tests run headless with Agg. In a notebook, pass the
figure to `show`, which embeds a small PNG and closes the figure, so the notebook stays
light and the cell leaves no `<Figure ...>` text behind; elsewhere close figures
(`plt.close(fig)`) when drawing many in a loop. The figures of scans are in `scan_plots`,
the shared sizes and saving in `plot_base`; every name is re-exported here.
"""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.stats import binomtest
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score,
                             roc_curve)

from .. import config
from ..evaluation import metrics
from .plot_base import (DPI, GALLERY_SHOW_DPI, GRADCAM_SCALING_NOTE, MAX_SCANS_SHOWN, MIN_BIN_SCANS, SHOW_DPI,  # noqa: F401
                        WRONG_COLOUR, _finish, png_bytes, show)


def learning_curves(history: dict, title: str, path=None, best_epoch: int | None = None) -> Figure:
    """Loss and accuracy per epoch, train vs validation, from a Keras `History.history` dict.

    `best_epoch` (1-based, as Keras logs epochs) marks the epoch whose weights early
    stopping restored, so the reader sees which point the reported model is.
    """
    required = ("loss", "val_loss", "accuracy", "val_accuracy")
    missing = [key for key in required if key not in history]
    if missing:
        raise ValueError(f"history lacks {missing}; expected the keys {list(required)}")
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((loss_ax, "loss", "loss (sparse categorical cross-entropy)"), (accuracy_ax, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], marker="o", markersize=3, label="train")
        ax.plot(epochs, history[f"val_{key}"], marker="o", markersize=3, label="validation")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", label=f"restored epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    loss_ax.set_title("loss")
    accuracy_ax.set_title("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def _draw_confusion(ax, confusion: dict, fontsize: int = 13) -> None:
    """One 2 x 2 confusion matrix on `ax`: counts and the percentage of each true class (row)."""
    counts = np.array([[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]])
    row_totals = counts.sum(axis=1, keepdims=True)
    row_share = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    ax.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if row_share[row, col] > 0.5 else "black"
        ax.text(col, row, f"{count}\n({100 * row_share[row, col]:.1f}% of row)", ha="center", va="center", color=colour,
                fontsize=fontsize)
    ax.set_xticks([0, 1], labels=config.CLASS_NAMES)
    ax.set_yticks([0, 1], labels=config.CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")


def confusion_matrix_plot(confusion: dict, title: str, path=None) -> Figure:
    """2 x 2 confusion matrix: counts and the percentage of each true class (row).

    Row percentages are sensitivity and specificity (and their misses), the numbers that
    matter for screening; the colour follows them, so a weak class stands out even when it
    is the smaller one.
    """
    fig, ax = plt.subplots(figsize=(6.4, 5.6))  # at 110 dpi about 700 px wide: readable at GitHub's width
    _draw_confusion(ax, confusion)
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


def confusion_matrices(confusions: dict, title: str, path=None) -> Figure:
    """One model's confusion matrix on each of several sets ({set name: confusion}), side by
    side, each panel as `confusion_matrix_plot` draws it (colour by row share)."""
    if not confusions:
        raise ValueError("no confusion matrix to draw")
    fig, axes = plt.subplots(1, len(confusions), figsize=(4.6 * len(confusions), 4.6), squeeze=False)
    for ax, (name, confusion) in zip(axes[0], confusions.items()):
        _draw_confusion(ax, confusion, fontsize=11)
        ax.set_title(f"{name} ({sum(confusion.values())} scans)")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def roc_curves(curves: dict, title: str, path=None, threshold: float | None = None) -> Figure:
    """ROC curves of one model on several sets ({set name: (labels, probabilities)}) in one
    panel, each with its AUC and, with `threshold`, its operating point."""
    if not curves:
        raise ValueError("no ROC curve to draw")
    fig, ax = plt.subplots(figsize=(6.8, 5.6))
    for name, (y_true, probability) in curves.items():
        y_true = np.asarray(y_true).astype(int)
        probability = np.asarray(probability, dtype=float)
        if y_true.min() == y_true.max():
            raise ValueError(f"{name}: a ROC curve needs both classes")
        fpr, tpr, _ = roc_curve(y_true, probability)
        line, = ax.plot(fpr, tpr, label=f"{name} (AUC = {roc_auc_score(y_true, probability):.3f}, {len(y_true)} scans)")
        if threshold is not None:
            counts = metrics.confusion(y_true, probability >= threshold)
            ax.plot(counts["fp"] / (counts["fp"] + counts["tn"]), counts["tp"] / (counts["tp"] + counts["fn"]), "o",
                    color=line.get_color(), markeredgecolor="black")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    if threshold is not None:
        ax.plot([], [], "o", color="white", markeredgecolor="black", label=f"threshold {threshold:.3g}")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


def roc_pr_curves(y_true, probability, title: str, path=None, threshold: float | None = None) -> Figure:
    """ROC (with AUC) and precision-recall (with average precision), operating point marked.

    The PR panel matters because ROC hides how many of the tumour calls are false alarms.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    if y_true.min() == y_true.max():
        raise ValueError("ROC and precision-recall curves need both classes in y_true")
    fpr, tpr, _ = roc_curve(y_true, probability)
    precision, recall, _ = precision_recall_curve(y_true, probability)
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    roc_ax.plot(fpr, tpr, label=f"ROC (AUC = {roc_auc_score(y_true, probability):.3f})")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    pr_ax.plot(recall, precision, label=f"PR (AP = {average_precision_score(y_true, probability):.3f})")
    pr_ax.axhline(y_true.mean(), color="grey", linestyle=":", label=f"prevalence {y_true.mean():.2f}")
    if threshold is not None:
        counts = metrics.confusion(y_true, probability >= threshold)
        tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
        sensitivity = tp / (tp + fn)
        label = f"threshold {threshold:.3g}"
        roc_ax.plot(fp / (fp + tn), sensitivity, "o", color=WRONG_COLOUR, label=label)
        if tp + fp:
            pr_ax.plot(sensitivity, tp / (tp + fp), "o", color=WRONG_COLOUR, label=label)
    roc_ax.set_xlabel("false positive rate (1 - specificity)")
    roc_ax.set_ylabel("true positive rate (sensitivity)")
    roc_ax.set_title("ROC")
    pr_ax.set_xlabel("recall (sensitivity)")
    pr_ax.set_ylabel("precision")
    pr_ax.set_title("precision-recall")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is roc_ax else "lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def reliability_diagram(
    y_true, probability, title: str, path=None, n_bins: int = 10, min_scans: int = MIN_BIN_SCANS
) -> Figure:
    """Observed tumour rate vs mean predicted probability per bin, the predictions' histogram below.

    A confident model puts nearly every scan in the two end bins, leaving the middle bins with
    a handful each, whose observed fraction swings between 0 and 1 by chance. So the equal-width
    bins are merged with their neighbours until each holds at least `min_scans` scans
    (`metrics.reliability_bins(min_count=...)`): every point carries its Wilson 95% interval and
    its count, and no point rests on one or two scans. The histogram below keeps the equal-width
    bins, on a log scale, with the merged bins' edges dotted, so a reader sees where the scans are.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    bins = metrics.reliability_bins(y_true, probability, n_bins=n_bins, min_count=min_scans)
    brier = float(brier_score_loss(y_true, probability, labels=[0, 1]))
    counts = np.array(bins["count"])
    filled = counts > 0
    mean_predicted = np.array(bins["mean_predicted"])[filled]
    observed = np.array(bins["observed"])[filled]
    counts = counts[filled]
    interval = np.array([metrics.wilson_interval(int(round(o * c)), int(c)) for o, c in zip(observed, counts)])
    fig, (curve_ax, count_ax) = plt.subplots(
        2, 1, figsize=(8.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curve_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    curve_ax.errorbar(mean_predicted, observed, yerr=np.abs(interval.T - observed), fmt="o-", color="tab:blue",
                      capsize=3, label=f"merged bin (>= {min_scans} scans), Wilson 95% interval")
    for x, y, count in zip(mean_predicted, observed, counts):
        right_edge = x > 0.85  # label to the left there, to stay inside the axes
        curve_ax.annotate(f"n={count}", (x, y), xytext=(-8 if right_edge else 8, -12 if y > 0.5 else 8),
                          textcoords="offset points", fontsize=9, ha="right" if right_edge else "left",
                          bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    curve_ax.set_ylabel("observed tumour fraction")
    curve_ax.set_ylim(-0.04, 1.04)
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(loc="upper left", fontsize=9)
    curve_ax.set_title(f"reliability (Brier score {brier:.4f}, all scans)")
    edges = np.linspace(0.0, 1.0, 2 * n_bins + 1)
    histogram = np.histogram(probability, bins=edges)[0]
    count_ax.bar(edges[:-1], histogram, width=np.diff(edges), align="edge", edgecolor="white")
    for edge in bins["edges"][1:-1]:
        for ax in (curve_ax, count_ax):
            ax.axvline(edge, color="grey", linestyle=":", linewidth=0.8)
    count_ax.set_yscale("symlog")  # the end bins hold most scans; keep the middle visible
    count_ax.set_xlabel("predicted tumour probability")
    count_ax.set_ylabel("scans")
    count_ax.set_xlim(-0.03, 1.03)  # room for the end bins' markers
    fig.suptitle(f"{title}\n({len(probability)} scans; {len(counts)} bins, merged from {n_bins} equal-width "
                 f"bins until each holds at least {min_scans})")
    fig.tight_layout()
    return _finish(fig, path)


def near_duplicate_histogram(distances, threshold: float, title: str, path=None, bin_width: float = 0.25) -> Figure:
    """Nearest-neighbour distances with the near-duplicate threshold; exact copies counted apart."""
    distances = np.asarray(distances, dtype=float)
    exact = distances == 0
    edges = np.arange(0.0, max(float(distances.max()), threshold) + 2 * bin_width, bin_width)
    flagged = int((distances <= threshold).sum())
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.hist(distances[~exact], bins=edges, color="tab:blue", label=f"{int((~exact).sum())} scans with distance > 0")
    ax.axvline(threshold, color=WRONG_COLOUR, linestyle="--", label=f"threshold {threshold:.2f}: {flagged} scans at or below")
    ax.plot([], [], " ", label=f"{int(exact.sum())} exact duplicates (distance 0) not drawn")
    ax.set_xlabel("distance to nearest other scan (mean |difference| of 16x16 thumbnails, grey levels)")
    ax.set_ylabel("scans")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


def resolution_study_plot(rows, title: str, path=None, n_val: int | None = None) -> Figure:
    """Validation accuracy (with Wilson 95% intervals) and training cost against input resolution.

    `n_val` is the number of validation scans each accuracy was measured on. Accuracies a
    few scans apart look like a trend on an axis zoomed to their range; the intervals
    (from k = round(accuracy * n_val) correct of n_val) show which differences are larger
    than chance, and the axis spans them. Without `n_val` the points are drawn bare and the
    figure says so.
    """
    if not rows:
        raise ValueError("resolution study has no rows")
    rows = sorted(rows, key=lambda row: row["resolution"])
    resolution = [row["resolution"] for row in rows]
    accuracy = np.array([row["val_accuracy"] for row in rows], dtype=float)
    fig, (accuracy_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    accuracy_ax.plot(resolution, accuracy, marker="o")
    if n_val is not None:
        if n_val < 1:
            raise ValueError(f"n_val must be a positive number of validation scans, got {n_val}")
        correct = [int(round(a * n_val)) for a in accuracy]
        interval = np.array([tuple(binomtest(k, n_val).proportion_ci(method="wilson")) for k in correct])
        accuracy_ax.errorbar(resolution, accuracy, yerr=np.abs(interval.T - accuracy), fmt="none",
                             ecolor="tab:blue", capsize=4)
        for x, y, k in zip(resolution, accuracy, correct):
            accuracy_ax.annotate(f"{k}/{n_val}", (x, y), xytext=(8, 0), textcoords="offset points", fontsize=8,
                                 va="center")
        accuracy_ax.margins(x=0.12)
        accuracy_ax.set_title(f"accuracy, with Wilson 95% intervals (n = {n_val})")
    else:
        accuracy_ax.set_title("accuracy (no interval: n_val not given)")
    accuracy_ax.set_ylabel("validation accuracy")
    time_ax.plot(resolution, [row["seconds_per_epoch"] for row in rows], marker="o", color="tab:orange")
    time_ax.set_ylabel("training time per epoch (s)")
    time_ax.set_title("cost")
    for ax in (accuracy_ax, time_ax):
        ax.set_xlabel("input resolution (pixels per side)")
        ax.set_xticks(resolution)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def risk_coverage_curves(curves: dict, title: str, path=None, marks: dict | None = None) -> Figure:
    """Risk-coverage curves ({set name: (coverage, risk)}, `evaluation.coverage.risk_coverage`)
    in one panel; `marks` ({set name: coverage}) marks where each set's warnings cut it."""
    if not curves:
        raise ValueError("no risk-coverage curve to draw")
    fig, ax = plt.subplots(figsize=(6.8, 5.0))
    for name, (coverage, risk) in curves.items():
        line, = ax.plot(coverage, risk, label=f"{name} ({len(coverage)} scans)")
        if marks and name in marks and len(coverage):
            k = int(np.clip(np.searchsorted(coverage, marks[name]), 0, len(coverage) - 1))
            ax.plot(coverage[k], risk[k], "o", color=line.get_color(), markeredgecolor="black")
    if marks:
        ax.plot([], [], "o", color="white", markeredgecolor="black", label="where the warnings cut")
    ax.set_xlabel("share of scans answered (most in-scope first)")
    ax.set_ylabel("error rate on the scans answered")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


# The figures of scans live in `scan_plots`; re-exported so that `plots.<name>` works as before.
from .scan_plots import misclassified_gallery, overlay_grid, prediction_grid, sample_scans  # noqa: E402,F401

