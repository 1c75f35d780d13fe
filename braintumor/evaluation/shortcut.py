"""How far slice size and brightness alone go, and the CNN's figures with them held fixed.

In this dataset the label is confounded with slice level: no-tumour scans are mostly small
slices near the top or bottom of the brain, so the head covers less of the picture. A
model can then score well by reading size and brightness instead of tissue. Two checks:

* `trivial_cue_classifier` on `slice_cues` (five numbers per scan, no texture): the score
  any classifier gets for free from the confound;
* `head_size_matched_pairs` and `tertile_metrics`: the CNN's figures on scans whose head
  area does not tell the classes apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedGroupKFold

from ..data.cues import CUE_NAMES, slice_cues  # noqa: F401  (re-exported: the shortcut checks read these cues)
from ..data.dataset import HEAD_GREY_LEVEL, grey_stack
from ..data.weights import (HEAD_AREA_BINS, head_area_balanced_weights, head_area_bin_edges,  # noqa: F401
                            head_area_training_weights, pooled_training_weights)
from .metrics import SUMMARY_METRICS, binary_metrics, fold_mean_std

_CHUNK = 256  # scans per vectorised step: bounds the boolean mask at ~15 MB

#: Largest head-area gap (fraction of the picture) within a pair: 0.01 is 576 of 57,600 pixels.
MAX_GAP = 0.01

#: `head_size_matched_pairs`'s rule, in words, for the report (with the default `MAX_GAP`).
PAIRING_RULE = (
    "Tumour scans are taken in ascending order of head area (fraction of the picture with "
    "grey > 20; ties by index). Each is paired with the not yet paired no-tumour scan whose "
    "head area is nearest (ties: the lower index), provided the two differ by at most "
    f"{MAX_GAP} of the picture; otherwise it stays unpaired. Each scan is used at most once."
)

#: The cues of `pooled_cues`: what a classifier can read off scans pooled from several
#: sources without looking at tissue: which source, whether a skull is there, which view,
#: how big and bright the head is.
POOLED_CUE_NAMES = CUE_NAMES + ("source", "bright_rim", "dark_frame", "left_right_asymmetry")


def left_right_asymmetry(images) -> np.ndarray:
    """Mean absolute difference between each scan and its mirror image, over the head, in grey
    levels: low for axial and coronal slices (a head is nearly symmetric about its midline
    there), high for sagittal ones. A rough view cue, with no view labels to check it against."""
    images = grey_stack(images).astype(np.float32)
    values = []
    for start in range(0, len(images), _CHUNK):
        chunk = images[start:start + _CHUNK]
        mask = chunk > HEAD_GREY_LEVEL
        difference = np.abs(chunk - chunk[:, :, ::-1])
        values.append(np.divide((difference * mask).sum(axis=(1, 2)), mask.sum(axis=(1, 2)),
                                out=np.zeros(len(chunk)), where=mask.any(axis=(1, 2))))
    return np.concatenate(values) if values else np.empty(0)


def pooled_cues(images, source) -> pd.DataFrame:
    """`slice_cues` plus the source index, the skull cue and dark-frame share of
    `input_check.input_cues`, and `left_right_asymmetry`: columns `POOLED_CUE_NAMES`."""
    from ..data.input_check import input_cues

    cues = slice_cues(images)
    checked = input_cues(images)
    cues["source"] = np.asarray(source, dtype=float)
    cues["bright_rim"] = checked["bright_rim"]
    cues["dark_frame"] = checked["dark_frame"]
    cues["left_right_asymmetry"] = left_right_asymmetry(images)
    return cues[list(POOLED_CUE_NAMES)]


def trivial_cue_classifier(seed: int) -> RandomForestClassifier:
    """An unfitted random forest for the `CUE_NAMES` columns.

    Chosen over `HistGradientBoostingClassifier(random_state=seed)` by one check, fitted
    on the train rows and scored on the validation rows (test rows unused), seed 42: ROC
    AUC 0.942 vs 0.939; at threshold 0.5 accuracy 0.859 vs 0.870, sensitivity 0.866 for
    both. Near a tie; the forest wins on the threshold-free figure, which is what the
    comparison with the CNN turns on, and `features` uses a forest too.
    """
    return RandomForestClassifier(n_estimators=300, min_samples_leaf=5, random_state=seed, n_jobs=1)


def cross_validated_cue_scores(cues, labels, groups, seed: int, folds: int = 5, features=CUE_NAMES) -> dict:
    """Grouped, stratified k-fold scores of `trivial_cue_classifier` at threshold 0.5.

    `groups` should be the byte-identical duplicate groups (`splits.group_ids`), as in the
    CNN's cross-validation, so copies never straddle folds; with the same `seed` and rows
    the folds are the same as `python -m braintumor study cv run`'s. Returns {"folds": [per fold:
    fold, n, accuracy, sensitivity, specificity, roc_auc], "summary": {metric: {"mean",
    "std"}}, "n", "threshold", "features"}. `features` names the columns of `cues` used
    (`POOLED_CUE_NAMES` for scans pooled from several sources).
    """
    x = np.asarray(cues[list(features)] if isinstance(cues, pd.DataFrame) else cues, dtype=float)
    labels = np.asarray(labels).astype(int)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    model = trivial_cue_classifier(seed)
    results = []
    for fold, (fit, held_out) in enumerate(splitter.split(x, labels, groups), start=1):
        fitted = clone(model).fit(x[fit], labels[fit])
        scores = binary_metrics(labels[held_out], fitted.predict_proba(x[held_out])[:, 1], 0.5, with_ci=False)
        results.append({"fold": fold, "n": scores["n"], **{m: scores[m] for m in SUMMARY_METRICS}})
    return {"folds": results, "summary": fold_mean_std(results), "n": len(labels),
            "threshold": 0.5, "features": list(features)}


def head_size_matched_pairs(head_area, labels, max_gap: float = MAX_GAP) -> np.ndarray:
    """[no-tumour index, tumour index] pairs of scans with nearly equal head area.

    The rule (`PAIRING_RULE`): tumour scans in ascending head area (ties by index), each
    paired with the not yet paired no-tumour scan of nearest head area (ties: lower index)
    if the gap is at most `max_gap` (a fraction of the picture). Greedy and deterministic;
    it does not promise the most pairs, only pairs that head area cannot tell apart.
    Returns an int array of shape (n_pairs, 2), indices into `head_area`.
    """
    head_area = np.asarray(head_area, dtype=float)
    labels = np.asarray(labels).astype(int)
    healthy = np.flatnonzero(labels == 0)
    tumours = np.flatnonzero(labels == 1)
    tumours = tumours[np.lexsort((tumours, head_area[tumours]))]
    free = np.ones(len(healthy), dtype=bool)
    pairs = []
    for tumour in tumours:
        gap = np.where(free, np.abs(head_area[healthy] - head_area[tumour]), np.inf)
        if len(gap) == 0:
            break
        nearest = int(np.argmin(gap))  # first minimum: the lower index among ties
        if gap[nearest] <= max_gap:
            free[nearest] = False
            pairs.append((healthy[nearest], tumour))
    return np.array(pairs, dtype=int).reshape(-1, 2)


def matched_metrics(labels, probability, threshold: float, pairs, head_area=None) -> dict:
    """`binary_metrics` on the scans of `pairs` only: balanced and matched for head area.

    Within the pairs head area says nothing about the label, so these figures show what the
    model gets from the tissue. Adds n_pairs and, with `head_area`, its median per class
    (head_area_median = {"no_tumour", "tumour"}) to show the matching worked.
    """
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    chosen = pairs.ravel()
    result = binary_metrics(np.asarray(labels)[chosen], np.asarray(probability)[chosen], threshold)
    result["n_pairs"] = len(pairs)
    if head_area is not None:
        head_area = np.asarray(head_area, dtype=float)
        result["head_area_median"] = {"no_tumour": float(np.median(head_area[pairs[:, 0]])),
                                      "tumour": float(np.median(head_area[pairs[:, 1]]))}
    return result


def matched_metrics_of(images, labels, probability, threshold: float) -> dict:
    """`matched_metrics` on the head-size-matched pairs of these scans: their head areas
    (`slice_cues`), paired by `head_size_matched_pairs`, in one call."""
    head_area = slice_cues(images)["head_area"].to_numpy()
    pairs = head_size_matched_pairs(head_area, labels)
    return matched_metrics(labels, probability, threshold, pairs, head_area)


def out_of_fold_matched_summary(labels, head_area, out_of_fold: dict, folds: dict) -> dict:
    """Head-size-matched figures of a cross-validation, per way of scoring (variant).

    `out_of_fold` maps a variant to every pooled scan's probability from the fold that held
    it out; `folds` maps it to the fold records (`accuracy`, and `matched` with `accuracy`
    and `roc_auc`). Per variant: the ROC AUC (95% bootstrap interval) of the out-of-fold
    probabilities on the matched pairs of the whole pool, which are several times the pairs
    of one held-out split, and the folds' mean accuracy, matched-pair accuracy and
    matched-pair ROC AUC (each fold at its own threshold, so no pooled threshold is needed).
    """
    labels = np.asarray(labels).astype(int)
    head_area = np.asarray(head_area, dtype=float)
    pairs = head_size_matched_pairs(head_area, labels)
    summary = {"pairing_rule": PAIRING_RULE}
    for variant, probability in out_of_fold.items():
        probability = np.asarray(probability, dtype=float)
        if np.isnan(probability).any():
            raise ValueError(f"variant {variant!r}: some scans have no out-of-fold probability; "
                             "finish every fold before summarising")
        pooled = matched_metrics(labels, probability, 0.5, pairs, head_area)
        runs = folds[variant]
        summary[variant] = {
            "n_pairs": pooled["n_pairs"], "roc_auc": pooled["roc_auc"], "roc_auc_ci95": pooled["ci95"]["roc_auc"],
            "head_area_median": pooled["head_area_median"],
            "fold_accuracy_mean": float(np.mean([run["accuracy"] for run in runs])),
            "fold_matched_accuracy_mean": float(np.mean([run["matched"]["accuracy"] for run in runs])),
            "fold_matched_roc_auc_mean": float(np.mean([run["matched"]["roc_auc"] for run in runs])),
        }
    return summary


def _finite_or_none(value):
    return float(value) if value is not None and np.isfinite(value) else None


def tertile_metrics(head_area, labels, probability, threshold: float) -> list[dict]:
    """The model's figures within each head-area tertile of the scans given.

    Cut points are `numpy.quantile(head_area, [1/3, 2/3])`; a scan at a cut point goes to
    the lower tertile. Per tertile: tertile (1 = smallest heads), head_area_range [low,
    high] (cut points; the data's min / max at the ends), n, tumours, accuracy,
    sensitivity, specificity, roc_auc and ci95. A figure a tertile cannot have (no tumour,
    no healthy scan, one class for AUC) is None.
    """
    head_area = np.asarray(head_area, dtype=float)
    labels = np.asarray(labels).astype(int)
    probability = np.asarray(probability, dtype=float)
    edges = np.concatenate([[head_area.min()], np.quantile(head_area, [1 / 3, 2 / 3]), [head_area.max()]])
    which = np.searchsorted(edges[1:3], head_area, side="left")
    rows = []
    for tertile in range(3):
        members = which == tertile
        if not members.any():  # all head areas equal: the upper tertiles are empty
            continue
        scores = binary_metrics(labels[members], probability[members], threshold)
        row = {"tertile": tertile + 1, "head_area_range": [float(edges[tertile]), float(edges[tertile + 1])],
               "n": int(members.sum()), "tumours": int(labels[members].sum())}
        row.update({m: _finite_or_none(scores[m]) for m in SUMMARY_METRICS})
        row["ci95"] = {m: [_finite_or_none(v) for v in scores["ci95"][m]] for m in SUMMARY_METRICS}
        rows.append(row)
    return rows
