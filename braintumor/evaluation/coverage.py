"""How much a warning buys: a model's error on the scans it answers, as fewer are answered.

The scope detector (`data.scope`) gives every scan an out-of-scope score. Answering the scans in
the order of that score, most in-scope first, a good detector makes the error fall as the share
answered (the coverage) falls: the risk-coverage curve (Geifman and El-Yaniv, NeurIPS 2017).
`default_warnings` and `warned_scans` decide the warnings as `predict` does, from a model folder;
`analysis.figures_by_warning` gives the model's figures on the warned and on the unwarned scans.
"""

from __future__ import annotations

import numpy as np


def risk_coverage(labels, probability, threshold: float, scope_score) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk): answering the `k` scans of lowest `scope_score` (k = 1..N, ties in their
    given order), the share answered k/N and the model's error rate at `threshold` on them."""
    labels = np.asarray(labels).astype(int)
    wrong = (np.asarray(probability, dtype=float) >= threshold).astype(int) != labels
    order = np.argsort(np.asarray(scope_score, dtype=float), kind="stable")
    answered = np.arange(1, len(labels) + 1)
    return answered / len(labels), np.cumsum(wrong[order]) / answered


def default_warnings(folder) -> dict:
    """What `predict` warns with for the model in `folder` (a model folder): {"cues": its card's
    input-check rule or None, "detector": its scope.json's detector or None (kind "cues": None),
    "network": a "cnn" detector's ONNX network, opened, or None}."""
    import json
    from pathlib import Path

    from ..data.input_check import check_rule
    from ..models.onnx_runtime import load_scope_detector

    folder = Path(folder)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    cues = check_rule(card["input_check"]) if card.get("input_check") else None
    detector, network = load_scope_detector(folder)
    return {"cues": cues, "detector": detector, "network": network}


def warned_scans(images, warnings: dict, extracted=None, extracted_with: str = "none") -> dict:
    """Per raw scan, as `predict` decides: {"cue" (bool), "scope_score" (float, or None without a
    detector), "warned" (bool: a cue, or the score at or above the detector's threshold)};
    `extracted`: the same scans after the brain extraction `extracted_with`, used where it is the
    detector's own (so that no scan is extracted twice)."""
    from ..data.input_check import input_warnings
    from ..data.scope import scope_scores

    n = len(images)
    cue = (np.array([warning is not None for warning in input_warnings(images, warnings["cues"])])
           if warnings["cues"] else np.zeros(n, bool))
    detector = warnings["detector"]
    if detector is None:
        return {"cue": cue, "scope_score": None, "warned": cue}
    same = extracted is not None and extracted_with == detector.get("extraction")
    score = scope_scores(images, detector, warnings["network"], extracted if same else None)
    return {"cue": cue, "scope_score": score, "warned": cue | (score >= detector["threshold"])}


def coverage_order(warned: dict) -> np.ndarray:
    """The order `risk_coverage` answers scans in: the detector's score, every cue-warned scan after
    every other (a cue warning is as out of scope as a score can be); the cues alone, without one."""
    score = warned["scope_score"] if warned["scope_score"] is not None else np.zeros(len(warned["cue"]))
    return np.where(warned["cue"], 1.0 + np.asarray(score, dtype=float), np.asarray(score, dtype=float))
