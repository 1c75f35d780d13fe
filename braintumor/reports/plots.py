"""The report's figures, one function each: drawn, titled, axes labelled, optionally saved.

Every function returns its matplotlib Figure, and with `path` also writes a full-size PNG
atomically (never a half-written image in `img/`). The backend is left to the caller:
notebooks keep theirs, scripts and tests run headless with Agg. In a notebook, pass the
figure to `show`, which embeds a small PNG and closes the figure, so the notebook stays
light and the cell leaves no `<Figure ...>` text behind; elsewhere close figures
(`plt.close(fig)`) when drawing many in a loop.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.stats import binomtest
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score,
                             roc_curve)

from .. import config
from ..evaluation import metrics
from ..data.dataset import grey_stack
from ..files import atomic_write

DPI = 110
WRONG_COLOUR = "tab:red"

#: Resolution of the PNG that `show` embeds in a notebook. At 60 dots per inch a 20-scan
#: gallery (12 x 13.6 inches) embeds at about 720 x 820 pixels, each scan about 145 pixels
#: wide with 8-point captions still legible. Measured with the shipped model, after the
#: 256-colour palette: 20-scan Grad-CAM grid 66 KB, 15-scan one 57 KB, 20-scan
#: misclassified gallery 41 KB, line plots under 10 KB. At 72 dpi the Grad-CAM grids
#: reach 90 KB. The full-size PNG is in `img/`.
SHOW_DPI = 60

#: Galleries of scans show at most this many (the most telling first) and say how many
#: more there are, so that a worse model cannot make a figure tens of rows long.
MAX_SCANS_SHOWN = 20

#: Reliability bins with fewer scans than this get a hollow marker and no line: their
#: observed fraction is too noisy to draw a curve through.
MIN_BIN_SCANS = 10

GRADCAM_SCALING_NOTE = "each map scaled to its own maximum: compare places within a scan, not scans"


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save `fig` as PNG at `path` (atomically) when a path is given; return it."""
    if path is not None:
        atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight"))
    return fig


def show(fig: Figure, dpi: int = SHOW_DPI) -> None:
    """Display `fig` inline as a small PNG, then close it; for notebook cells.

    Why not let Jupyter draw the figure: its full-resolution PNG makes a notebook of
    galleries weigh megabytes, and the `<Figure size ... with N Axes>` text it leaves
    records counts (of errors, say) that follow the trained weights, which a notebook
    regression check then flags. Here the figure is rendered in memory at `dpi`, reduced
    to a 256-colour palette (plots have few colours; the scans are grey), shown with
    `IPython.display`, and closed, so the cell's output is only that image. The full-size
    PNG is what the plotting function's `path=` wrote. Returns None, so a cell ending in
    `plots.show(fig)` prints nothing more.
    """
    from IPython.display import Image as IPythonImage, display

    display(IPythonImage(data=png_bytes(fig, dpi), format="png"))
    plt.close(fig)


def png_bytes(fig: Figure, dpi: int = SHOW_DPI) -> bytes:
    """`fig` as a compact PNG in memory: `dpi`, tight bounding box, 256-colour palette.

    No software version in the metadata, so the bytes depend only on what is drawn.
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as picture:
        palette = picture.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    compact = io.BytesIO()
    palette.save(compact, format="PNG", optimize=True)
    return compact.getvalue()


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


def reliability_diagram(
    y_true, probability, title: str, path=None, n_bins: int = 10, min_scans: int = MIN_BIN_SCANS
) -> Figure:
    """Observed tumour rate vs mean predicted probability per bin, predictions histogram below.

    A confident model puts nearly every scan in the two end bins, leaving the middle bins
    with a handful each, whose observed fraction swings between 0 and 1 by chance. So:

    * each bin's point carries its Wilson 95% interval and its count (`n=`), so a reader
      sees how much each point is worth;
    * bins with at least `min_scans` scans are filled and joined by a line only to a
      neighbouring bin that is filled too; sparser bins get a hollow marker and no line,
      so no curve is drawn through noise.

    Equal-width bins rather than quantile bins: with most scans at p < 0.01 or p > 0.99,
    quantile bins would spend nearly all bins on the two ends and merge the whole middle,
    where the decision threshold lies, into one wide bin. Equal-width bins keep the middle
    visible, line up with the histogram below and show honestly how few scans it holds.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    bins = metrics.reliability_bins(y_true, probability, n_bins=n_bins)
    brier = float(brier_score_loss(y_true, probability, labels=[0, 1]))
    counts = np.array(bins["count"])
    mean_predicted = np.array(bins["mean_predicted"])
    observed = np.array(bins["observed"])
    filled = counts > 0
    solid = counts >= min_scans
    interval = np.array([metrics.wilson_interval(int(round(o * c)), int(c)) if c else [np.nan, np.nan]
                         for o, c in zip(observed, counts)])
    fig, (curve_ax, count_ax) = plt.subplots(
        2, 1, figsize=(8.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curve_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    # NaN breaks the line: only neighbouring well-filled bins are joined
    curve_ax.plot(mean_predicted, np.where(solid, observed, np.nan), color="tab:blue")
    sparse_label = f"bin of < {min_scans} scans: too few for a curve"
    for members, face, label in ((solid, "tab:blue", f"bin of >= {min_scans} scans"), (filled & ~solid, "white", sparse_label)):
        if not members.any():
            continue
        curve_ax.errorbar(
            mean_predicted[members],
            observed[members],
            yerr=np.abs(interval[members].T - observed[members]),
            fmt="o",
            color="tab:blue",
            markerfacecolor=face,
            capsize=3,
            label=label,
        )
    for x, y, count in zip(mean_predicted[filled], observed[filled], counts[filled]):
        right_edge = x > 0.9  # label to the left there, to stay inside the axes
        curve_ax.annotate(f"n={count}", (x, y), xytext=(-8 if right_edge else 8, (-14 if right_edge else -5) if y > 0.5 else 5),
                          textcoords="offset points", fontsize=8, ha="right" if right_edge else "left",
                          va="top" if y > 0.5 else "bottom")
    curve_ax.plot([], [], " ", label="bars: Wilson 95% interval\nn: scans in the bin")
    curve_ax.plot([], [], " ", label=f"Brier score {brier:.4f} (all scans)")
    curve_ax.set_ylabel("observed tumour fraction")
    curve_ax.set_ylim(-0.04, 1.04)
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    curve_ax.set_title("reliability")
    edges = np.array(bins["edges"])
    count_ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="white")
    count_ax.set_yscale("symlog")  # the end bins hold most scans; keep the middle visible
    count_ax.set_xlabel("predicted tumour probability")
    count_ax.set_ylabel("scans")
    count_ax.set_xlim(-0.03, 1.03)  # room for the end bins' markers
    fig.suptitle(f"{title}\n({len(probability)} scans in {n_bins} equal-width bins)")
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


def _nothing_to_show(message: str, title: str, note: str) -> Figure:
    """A small figure that says in words that there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(note)
    ax.set_title(title)
    return fig


def _shown_note(total: int, shown: int, which: str) -> str:
    """'' when every item is shown, else a line saying how many are left out."""
    return "" if shown >= total else f"\n(showing the {which} {shown} of {total}; {total - shown} not shown)"


def misclassified_gallery(
    images, y_true, probability, names, threshold: float, title: str, path=None, columns: int = 5,
    max_shown: int = MAX_SCANS_SHOWN,
) -> Figure:
    """The misclassified scans, the most confident errors first; says so when there is none.

    At most `max_shown` scans are drawn (the most confident errors, the ones worth a look
    first); the title says how many more there are, so the figure stays readable for any
    model.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    wrong = np.flatnonzero((probability >= threshold).astype(int) != y_true)
    if len(wrong) == 0:
        fig = _nothing_to_show("no misclassified scans", title, f"tumour called at p >= {threshold:.3g}")
        return _finish(fig, path)
    order = wrong[np.argsort(-np.abs(probability[wrong] - y_true[wrong]), kind="stable")]
    shown = order[:max_shown]
    fig = _scan_grid(
        np.asarray(images)[shown],
        y_true[shown],
        probability[shown],
        np.asarray(names)[shown],
        threshold,
        f"{title}: {len(order)} misclassified" + _shown_note(len(order), len(shown), "most confident"),
        columns=min(columns, len(shown)),
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


def overlay_grid(
    overlays, captions, title: str, path=None, columns: int = 5, max_shown: int = MAX_SCANS_SHOWN
) -> Figure:
    """RGB pictures (Grad-CAM overlays from `gradcam.overlay`) in a grid, each with its caption.

    A colour bar gives the jet scale of the heat, and a footnote says how it is scaled:
    `gradcam.gradcam` divides each map by its own maximum, so red marks the place with the
    most evidence for 'tumour' *within that scan*, however little there is (on a scan
    with p = 0.000 too). Colours cannot be compared between scans. At most `max_shown`
    pictures are drawn, in the order given; the title says how many are left out. With
    none, the figure says so.
    """
    overlays = list(overlays)
    captions = list(captions)
    if len(overlays) != len(captions):
        raise ValueError(f"{len(overlays)} pictures but {len(captions)} captions")
    if not overlays:
        return _finish(_nothing_to_show("none", title, "no scans in this group"), path)
    total = len(overlays)
    overlays, captions = overlays[:max_shown], captions[:max_shown]
    columns = max(1, min(columns, len(overlays)))
    rows = math.ceil(len(overlays) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns + 0.8, 3.0 * rows + 0.4), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(overlays):]:
        ax.set_axis_off()
    for ax, picture, caption in zip(axes.ravel(), overlays, captions):
        ax.imshow(picture)
        ax.set_xlabel(caption, fontsize=8)
    colour_bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap="jet"), ax=axes, shrink=min(1.0, 0.5 + 0.15 * rows),
                              ticks=[0, 0.25, 0.5, 0.75, 1], aspect=30)
    colour_bar.ax.tick_params(labelsize=8)
    colour_bar.set_label("Grad-CAM evidence for 'tumour'\n(0 = none, 1 = the map's own maximum)", fontsize=9)
    fig.suptitle(f"{title}{_shown_note(total, len(overlays), 'first')}")
    fig.supxlabel(f"Heat blended over the scan, jet colours; {GRADCAM_SCALING_NOTE}.", fontsize=9)
    return _finish(fig, path)
