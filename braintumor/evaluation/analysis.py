"""Error-analysis computations that the notebook shows and the report quotes."""

from __future__ import annotations

import numpy as np

from ..data.dataset import HEAD_GREY_LEVEL, border_mask, grey_stack, head_mask  # noqa: F401 (re-exported for callers)
from .metrics import wilson_interval


def heat_share_on_head(images, heatmaps) -> np.ndarray:
    """Per scan, the share of Grad-CAM heat that falls on the head, not the background.

    Near 1: the network looks at the head; near the head's share of the picture: the heat
    is spread without regard to anatomy.
    """
    heatmaps = np.asarray(heatmaps, dtype=float)
    mask = head_mask(images)
    total = heatmaps.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (heatmaps * mask).sum(axis=(1, 2)) / total, np.nan)


def accuracy_by_near_duplicate(y_true, probability, threshold: float, has_near_duplicate) -> dict:
    """Accuracy (with Wilson 95% CI) on test scans with and without a near-duplicate in train."""
    y_true = np.asarray(y_true).astype(int)
    correct = (np.asarray(probability) >= threshold).astype(int) == y_true
    flagged = np.asarray(has_near_duplicate, dtype=bool)
    result = {}
    for key, members in (("with_near_duplicate", flagged), ("without_near_duplicate", ~flagged)):
        n = int(members.sum())
        hits = int(correct[members].sum())
        result[key] = {
            "n": n,
            "correct": hits,
            "accuracy": hits / n if n else float("nan"),
            "ci95": wilson_interval(hits, n),
            "missed_tumours": int(((~correct) & members & (y_true == 1)).sum()),
        }
    return result


def errors_by_confidence(y_true, probability, threshold: float, per_kind: int | None = None) -> np.ndarray:
    """Indices of the misclassified scans, the most confident errors first (farthest from their
    true label; ties in the given order). Every error figure and table uses this order.

    With `per_kind`, at most that many missed tumours and that many false alarms, alternating
    (the kind with the most confident error first), so that a small gallery shows both kinds
    of failure even when one kind outnumbers the other."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    wrong = np.flatnonzero((probability >= threshold).astype(int) != y_true)
    order = wrong[np.argsort(-np.abs(probability[wrong] - y_true[wrong]), kind="stable")]
    if per_kind is None:
        return order
    kinds = [order[y_true[order] == label][:per_kind] for label in (1, 0)]  # missed tumours, false alarms
    kinds.sort(key=lambda kind: -np.abs(probability[kind[0]] - y_true[kind[0]]) if len(kind) else 0.0)
    interleaved = [k for pair in zip(*kinds) for k in pair]
    longer = max(kinds, key=len)
    return np.asarray(interleaved + list(longer[len(interleaved) // 2:]), dtype=int)


def figures_by_warning(labels, probability, threshold: float, warned, figures=None) -> dict:
    """A set's figures on the scans `predict`'s input check warns on and on those it does not,
    so that the warning's worth is a measured figure. `figures(labels, probability, threshold)`
    computes each part's (default: `metrics.binary_metrics`); a part with one class only gets its
    count and tumours alone (no ROC AUC without both classes)."""
    from .metrics import binary_metrics

    figures = figures or binary_metrics
    labels, probability, warned = np.asarray(labels).astype(int), np.asarray(probability, dtype=float), np.asarray(warned, bool)
    out = {}
    for part, mask in (("warned", warned), ("unwarned", ~warned)):
        if len(set(labels[mask].tolist())) < 2:
            out[part] = {"n": int(mask.sum()), "tumours": int(labels[mask].sum())}
        else:
            out[part] = figures(labels[mask], probability[mask], threshold)
    return out


def warning_summary(labels, probability, threshold: float, warned) -> dict:
    """One set as a scope study confirms it: {"n", "warned_share", "unwarned_roc_auc",
    "warned_roc_auc" (None where that part holds one class), "by_warning": `figures_by_warning`}."""
    split = figures_by_warning(labels, probability, threshold, warned)
    warned = np.asarray(warned, bool)
    return {"n": int(len(warned)), "warned_share": float(warned.mean()) if len(warned) else 0.0,
            **{f"{part}_roc_auc": split[part].get("roc_auc") for part in ("unwarned", "warned")}, "by_warning": split}


def misclassified_table(names, y_true, probability, threshold: float) -> list[dict]:
    """Every misclassified scan with its tumour probability, the most confident errors first."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    order = errors_by_confidence(y_true, probability, threshold)
    return [
        {"image": str(names[k]), "true": int(y_true[k]), "probability": float(probability[k]),
         "error": "missed tumour" if y_true[k] == 1 else "false alarm"}
        for k in order
    ]


def heat_share_on_brightest(images, heatmaps, quantile: float = 0.9) -> np.ndarray:
    """Per scan, the share of heat on the brightest (1 - quantile) of the head's pixels.

    A map spread evenly over the head would put (1 - quantile) of its heat there; much
    more means the network looks at bright structures (enhancing lesions, but also skull
    and fat, which are bright on these slices too).
    """
    images = grey_stack(images)
    heatmaps = np.asarray(heatmaps, dtype=float)
    shares = np.full(len(images), np.nan)
    for k, (image, heat) in enumerate(zip(images, heatmaps)):
        head = image > HEAD_GREY_LEVEL
        if not head.any() or heat.sum() == 0:
            continue
        bright = head & (image >= np.quantile(image[head], quantile))
        shares[k] = heat[bright].sum() / heat.sum()
    return shares


#: Width in pixels of the picture's outer band that `heat_share_on_border` measures. The
#: shipped network's last feature map is 8 cells wide for 240 pixels, so one cell is 30
#: pixels; 16 pixels is about half a cell, the band where zero padding shows up as a frame
#: of heat, while the head itself rarely reaches it.
BORDER_WIDTH = 16

#: A map with more than this share of its heat on the border band counts as frame-shaped:
#: 1.6 times the band's area share (0.25), which an even spread would give. The two framed
#: maps the error analysis shows (Image367, Image3524) hold 0.45 and 0.50.
BORDER_HEAVY_SHARE = 0.4


def heat_share_on_border(heatmaps, width: int = BORDER_WIDTH) -> np.ndarray:
    """Per map, the share of Grad-CAM heat on the picture's outer band `width` pixels wide.

    Heat framed along the edges, away from the head, is what a network with zero padding
    and a flattening head can learn: the padded edge is the same in every scan, so it is
    a position marker rather than anatomy. An even spread puts the band's area share
    (`border_mask(...).mean()`, 0.25 for 16 of 240 pixels) there; NaN for blank maps.
    """
    heatmaps = np.asarray(heatmaps, dtype=float)
    if heatmaps.ndim != 3 or heatmaps.shape[1] != heatmaps.shape[2]:
        raise ValueError(f"expected square heat maps (N, side, side), got {heatmaps.shape}")
    mask = border_mask(heatmaps.shape[1], width)
    total = heatmaps.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (heatmaps * mask).sum(axis=(1, 2)) / total, np.nan)


def _nan_mean(values: np.ndarray) -> float:
    """Mean over the finite values; NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def gradcam_heat_summary(
    model, images, labels, probability, threshold: float, batch_size: int = 64, border_width: int = BORDER_WIDTH
) -> dict:
    """Where Grad-CAM puts the heat, over every scan given, for correct and misclassified ones.

    The figures show a handful of scans; these means cover all of them, so the report can
    say how typical a picture is. Maps are computed `batch_size` scans at a time and
    reduced at once, so memory stays at one batch of maps (all 753 test maps would be 170
    MB in float32). Keys, with `{group}` = 'misclassified' or 'correct':

    * `{group}_n`: scans in the group; `{group}_blank`: of those, maps with no heat at all
      (nothing speaks for 'tumour'), left out of the means below;
    * `{group}_mean`: mean share of heat on the head (`heat_share_on_head`);
    * `{group}_bright`: mean share on the brightest tenth of the head (`heat_share_on_brightest`);
    * `{group}_border`: mean share on the outer `border_width` pixels (`heat_share_on_border`);
    * `{group}_border_heavy`: maps with more than `BORDER_HEAVY_SHARE` of their heat on
      that band (frame-shaped heat), a count, so the report can say how common it is;
    * `head_fraction`: the head's mean share of the picture (over all scans);
    * `border_fraction`: the border band's share of the picture, what an even spread gives;
    * `border_width`: the band's width in pixels.
    """
    from .gradcam import gradcam  # TensorFlow is imported only when maps are needed

    images = grey_stack(images)
    labels = np.asarray(labels).astype(int)
    probability = np.asarray(probability, dtype=float)
    if not len(images) == len(labels) == len(probability):
        raise ValueError(f"{len(images)} scans, {len(labels)} labels and {len(probability)} probabilities differ in number")
    if images.ndim != 3:
        raise ValueError(f"expected scans (N, H, W[, 1]), got shape {images.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    shares = {"mean": [], "bright": [], "border": [], "blank": []}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        heatmaps = gradcam(model, batch)
        shares["mean"].append(heat_share_on_head(batch, heatmaps))
        shares["bright"].append(heat_share_on_brightest(batch, heatmaps))
        shares["border"].append(heat_share_on_border(heatmaps, border_width))
        shares["blank"].append(heatmaps.max(axis=(1, 2)) == 0)
    shares = {key: np.concatenate(value) if value else np.zeros(0) for key, value in shares.items()}
    wrong = (probability >= threshold).astype(int) != labels
    summary: dict = {}
    for group, members in (("misclassified", wrong), ("correct", ~wrong)):
        summary[f"{group}_n"] = int(members.sum())
        summary[f"{group}_blank"] = int(shares["blank"][members].sum())
        for key in ("mean", "bright", "border"):
            summary[f"{group}_{key}"] = _nan_mean(shares[key][members])
        summary[f"{group}_border_heavy"] = int((np.nan_to_num(shares["border"][members]) > BORDER_HEAVY_SHARE).sum())
    summary["head_fraction"] = float(head_mask(images).mean()) if len(images) else float("nan")
    summary["border_fraction"] = float(border_mask(images.shape[-1], border_width).mean())
    summary["border_width"] = int(border_width)
    return summary
