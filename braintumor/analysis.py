"""Error-analysis computations that the notebook shows and the report quotes."""

from __future__ import annotations

import numpy as np

from .data import grey_stack
from .metrics import wilson_interval

#: Grey level above which a pixel counts as head rather than background (the scans have
#: a black background; the skull and brain are far brighter than this).
HEAD_GREY_LEVEL = 20


def head_mask(images) -> np.ndarray:
    """Boolean (N, 240, 240): pixels brighter than the black background."""
    images = grey_stack(images)
    return images > HEAD_GREY_LEVEL


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


def misclassified_table(names, y_true, probability, threshold: float) -> list[dict]:
    """Every misclassified scan with its tumour probability, the most confident errors first."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    wrong = np.flatnonzero((probability >= threshold).astype(int) != y_true)
    order = wrong[np.argsort(-np.abs(probability[wrong] - y_true[wrong]), kind="stable")]
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
