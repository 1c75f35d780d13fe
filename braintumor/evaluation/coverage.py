"""How much a warning buys: a model's error on the scans it answers, as fewer are answered.

The scope detector (`data.scope`) gives every scan an out-of-scope score. Answering the scans in
the order of that score, most in-scope first, a good detector makes the error fall as the share
answered (the coverage) falls: the risk-coverage curve (Geifman and El-Yaniv, NeurIPS 2017).
`warned_split` gives the model's ROC AUC on the warned and on the unwarned scans of a set.
"""

from __future__ import annotations

import numpy as np

from .metrics import binary_metrics


def risk_coverage(labels, probability, threshold: float, scope_score) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk): answering the `k` scans of lowest `scope_score` (k = 1..N, ties in their
    given order), the share answered k/N and the model's error rate at `threshold` on them."""
    labels = np.asarray(labels).astype(int)
    wrong = (np.asarray(probability, dtype=float) >= threshold).astype(int) != labels
    order = np.argsort(np.asarray(scope_score, dtype=float), kind="stable")
    answered = np.arange(1, len(labels) + 1)
    return answered / len(labels), np.cumsum(wrong[order]) / answered


def warned_split(labels, probability, threshold: float, warned) -> dict:
    """The model's figures on a set's unwarned and warned scans ({"unwarned", "warned"}: n, share,
    ROC AUC (None with one class), accuracy at `threshold`)."""
    labels, probability, warned = np.asarray(labels).astype(int), np.asarray(probability, dtype=float), np.asarray(warned, bool)
    out = {}
    for name, keep in (("unwarned", ~warned), ("warned", warned)):
        part = {"n": int(keep.sum()), "share": float(keep.mean()) if len(keep) else 0.0, "roc_auc": None, "accuracy": None}
        if keep.any():
            scored = binary_metrics(labels[keep], probability[keep], threshold, with_ci=False)
            auc = scored["roc_auc"]
            part.update(roc_auc=None if np.isnan(auc) else float(auc), accuracy=float(scored["accuracy"]))
        out[name] = part
    return out
