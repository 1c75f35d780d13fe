"""The report's figures of scans (prediction grids, galleries of errors, Grad-CAM overlays,
samples): split from `plots`, which re-exports every name, so `plots.overlay_grid` works as
before. The same conventions: each returns its Figure and with `path` writes a PNG atomically.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .. import config
from ..data.dataset import grey_stack
from .plot_base import GRADCAM_SCALING_NOTE, MAX_SCANS_SHOWN, WRONG_COLOUR, _finish


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
    errors = int((predicted != y_true).sum())
    marked = f"{errors} error{'s' if errors != 1 else ''} in red" if errors else "no error among these"
    fig.suptitle(f"{title}\n(tumour called at p >= {threshold:.3g}; {marked})")
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
    from ..evaluation.analysis import errors_by_confidence

    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    order = errors_by_confidence(y_true, probability, threshold)
    if len(order) == 0:
        fig = _nothing_to_show("no misclassified scans", title, f"tumour called at p >= {threshold:.3g}")
        return _finish(fig, path)
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


def brain_extraction_figure(rows, path=None, title: str = "Brain extraction (classical-v1)") -> Figure:
    """Each `(label, slice)` of `rows` in a column: the slice as it is, the brain mask drawn on
    it (outline in red, what is taken away tinted cyan), and the slice after extraction.

    A slice is 2D uint8 grey (or (H, W, 1)). Each column says how much of its head (pixels
    brighter than the background, as the input check counts them) is kept.
    """
    from ..data.brain_extraction import brain_mask
    from ..data.dataset import HEAD_GREY_LEVEL

    rows = list(rows)
    if not rows:
        return _finish(_nothing_to_show("none", title, "no slices given"), path)
    fig, axes = plt.subplots(3, len(rows), figsize=(2.3 * len(rows), 7.4), squeeze=False, layout="constrained")
    for column, (label, picture) in enumerate(rows):
        grey = np.asarray(picture, dtype=np.uint8)
        grey = grey[..., 0] if grey.ndim == 3 else grey
        mask = brain_mask(grey)
        head = grey > HEAD_GREY_LEVEL
        removed = head & ~mask
        tint = np.zeros((*grey.shape, 4))
        tint[removed] = (0.0, 0.8, 0.9, 0.45)
        before, drawn, after = axes[:, column]
        for ax, shown in ((before, grey), (drawn, grey), (after, np.where(mask, grey, 0))):
            ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        drawn.imshow(tint)
        if mask.any() and not mask.all():
            drawn.contour(mask, levels=[0.5], colors=WRONG_COLOUR, linewidths=0.8)
        before.set_title(str(label), fontsize=9)
        kept = (head & mask).sum() / max(head.sum(), 1)
        after.set_xlabel("head kept whole" if not removed.any() else f"{kept:.0%} of head kept", fontsize=8)
    for ax, name in zip(axes[:, 0], ("before", "brain mask\n(red; cyan: taken away)", "after")):
        ax.set_ylabel(name, fontsize=9)
    fig.suptitle(f"{title}: each slice before, its brain mask, and after")
    return _finish(fig, path)
