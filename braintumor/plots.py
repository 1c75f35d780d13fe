"""The report's figures, one function each: drawn, titled, axes labelled, optionally saved.

Every function returns its matplotlib Figure so a notebook shows it inline, and with
`path` also writes a PNG atomically (never a half-written image in `img/`). The backend is
left to the caller: notebooks keep theirs, scripts and tests run headless with Agg.
Figures come from pyplot so notebooks display them; close them (`plt.close(fig)`) when
drawing many in a loop.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from . import config, metrics
from .data import grey_stack
from .files import atomic_write

DPI = 110
WRONG_COLOUR = "tab:red"


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save `fig` as PNG at `path` (atomically) when a path is given; return it."""
    if path is not None:
        atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight"))
    return fig


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
    for ax, key, label in ((loss_ax, "loss", "loss (binary cross-entropy)"), (accuracy_ax, "accuracy", "accuracy")):
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


def confusion_matrix_plot(confusion: dict, title: str, path=None) -> Figure:
    """2 x 2 confusion matrix: counts and the percentage of each true class (row).

    Row percentages are sensitivity and specificity (and their misses), the numbers that
    matter for screening; the colour follows them, so a weak class stands out even when it
    is the smaller one.
    """
    counts = np.array([[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]])
    row_totals = counts.sum(axis=1, keepdims=True)
    row_share = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if row_share[row, col] > 0.5 else "black"
        ax.text(col, row, f"{count}\n({100 * row_share[row, col]:.1f}% of row)", ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], labels=config.CLASS_NAMES)
    ax.set_yticks([0, 1], labels=config.CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
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


def reliability_diagram(y_true, probability, title: str, path=None, n_bins: int = 10) -> Figure:
    """Observed tumour rate vs mean predicted probability per bin, predictions histogram below.

    The histogram shows how few scans the middle bins hold, i.e. how much to trust them.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    bins = metrics.reliability_bins(y_true, probability, n_bins=n_bins)
    brier = float(np.mean((probability - y_true) ** 2))
    filled = np.array(bins["count"]) > 0
    fig, (curve_ax, count_ax) = plt.subplots(
        2, 1, figsize=(5.5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curve_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    curve_ax.plot(
        np.array(bins["mean_predicted"])[filled],
        np.array(bins["observed"])[filled],
        marker="o",
        label=f"model (Brier {brier:.4f})",
    )
    curve_ax.set_ylabel("observed tumour fraction")
    curve_ax.set_ylim(-0.02, 1.02)
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(loc="upper left")
    curve_ax.set_title("reliability")
    edges = np.array(bins["edges"])
    count_ax.bar(edges[:-1], bins["count"], width=np.diff(edges), align="edge", edgecolor="white")
    count_ax.set_yscale("symlog")  # the end bins hold most scans; keep the middle visible
    count_ax.set_xlabel("predicted tumour probability")
    count_ax.set_ylabel("scans")
    count_ax.set_xlim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def _scan_grid(images, y_true, probability, names, threshold, title: str, columns: int) -> Figure:
    """Scans with name, true and predicted class and tumour probability; errors in red."""
    images = grey_stack(images)
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    predicted = (probability >= threshold).astype(int)
    grey_range = {"vmin": 0, "vmax": 255} if images.dtype == np.uint8 else {}
    rows = max(1, math.ceil(len(images) / columns))
    # constrained layout keeps each three-line caption clear of the next row's title
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 3.4 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(images) :]:
        ax.set_axis_off()
    for k, ax in enumerate(axes.ravel()[: len(images)]):
        wrong = predicted[k] != y_true[k]
        colour = WRONG_COLOUR if wrong else "black"
        ax.imshow(images[k], cmap="gray", **grey_range)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(names[k]), fontsize=9, color=colour)
        ax.set_xlabel(
            f"true: {config.CLASS_NAMES[y_true[k]]}\npredicted: {config.CLASS_NAMES[predicted[k]]}"
            f"\np(tumour) = {probability[k]:.3f}",
            fontsize=8,
            color=colour,
        )
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3 if wrong else 0.5)
    fig.suptitle(f"{title}\n(tumour called at p >= {threshold:.3g}; errors in red)")
    return fig


def prediction_grid(images, y_true, probability, names, threshold: float, title: str, path=None, n: int = 10) -> Figure:
    """The first `n` of the given scans (2 x 5 for n = 10) with their predictions."""
    shown = slice(0, n)
    fig = _scan_grid(
        np.asarray(images)[shown],
        np.asarray(y_true)[shown],
        np.asarray(probability)[shown],
        np.asarray(names)[shown],
        threshold,
        title,
        columns=min(5, n),
    )
    return _finish(fig, path)


def misclassified_gallery(
    images, y_true, probability, names, threshold: float, title: str, path=None, columns: int = 5
) -> Figure:
    """Every misclassified scan, the most confident errors first; says so when there is none."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    wrong = np.flatnonzero((probability >= threshold).astype(int) != y_true)
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.text(0.5, 0.5, "no misclassified scans", ha="center", va="center", fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"tumour called at p >= {threshold:.3g}")
        ax.set_title(title)
        return _finish(fig, path)
    order = wrong[np.argsort(-np.abs(probability[wrong] - y_true[wrong]), kind="stable")]
    fig = _scan_grid(
        np.asarray(images)[order],
        y_true[order],
        probability[order],
        np.asarray(names)[order],
        threshold,
        f"{title}: {len(order)} misclassified",
        columns=min(columns, len(order)),
    )
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


def resolution_study_plot(rows, title: str, path=None) -> Figure:
    """Validation accuracy and training cost against input resolution, side by side."""
    if not rows:
        raise ValueError("resolution study has no rows")
    rows = sorted(rows, key=lambda row: row["resolution"])
    resolution = [row["resolution"] for row in rows]
    fig, (accuracy_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    accuracy_ax.plot(resolution, [row["val_accuracy"] for row in rows], marker="o")
    accuracy_ax.set_ylabel("validation accuracy")
    accuracy_ax.set_title("accuracy")
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


def sample_scans(images, labels, names, title: str, path=None, per_class: int = 5, seed: int = config.SEED) -> Figure:
    """A row of randomly drawn scans per class, so a reader sees what the data look like."""
    images = grey_stack(images)
    labels = np.asarray(labels).astype(int)
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, per_class, figsize=(2.2 * per_class, 5.0), squeeze=False, layout="constrained")
    for label in (0, 1):
        chosen = rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False)
        for ax, k in zip(axes[label], chosen):
            ax.imshow(images[k], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(str(names[k]), fontsize=9)
        axes[label, 0].set_ylabel(config.CLASS_NAMES[label], fontsize=11)
    fig.suptitle(f"{title}\n(240 x 240 pixels, grey levels 0-255)")
    return _finish(fig, path)


def overlay_grid(overlays, captions, title: str, path=None, columns: int = 5) -> Figure:
    """RGB pictures (e.g. Grad-CAM overlays) in a grid, each with its caption."""
    count = max(1, len(overlays))
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 3.0 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(overlays):]:
        ax.set_axis_off()
    if len(overlays) == 0:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    for ax, picture, caption in zip(axes.ravel(), overlays, captions):
        ax.imshow(picture)
        ax.set_xlabel(caption, fontsize=8)
    fig.suptitle(f"{title}\n(heat: jet colour map, red = most evidence for 'tumour')")
    return _finish(fig, path)
