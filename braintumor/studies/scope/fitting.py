"""The scope detector's fitting: the logistic regression, a leave-one-site-out row, a variant
fitted and thresholded on the validation rows, and the JSON dict `data.scope` applies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...files import atomic_write
from . import rule
from .sets import DETECTOR_FILE, RECORD, columns, cue_warned, model_folder, rows_of


def fit(features, labels, c: float):
    """The detector's logistic regression: standardised features, classes balanced."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000)).fit(features, labels)


def loso_row(data: dict, variant: str, c: float, site: str) -> dict:
    """One leave-one-site-out row: fitted on A's train rows and the other sites' FLAIR and T1
    train rows; its balanced accuracy, FLAIR against T1, on `site`'s train and validation rows."""
    from sklearn.metrics import balanced_accuracy_score

    cut = columns(variant)
    x, y = rows_of(data, lambda part: (part["split"] == "train") & (part["site"] != site))
    model = fit(x[:, cut], y, c)
    held = {name: part for name, part in data.items() if name != "brain-tumor"}
    xh, yh = rows_of(held, lambda part: (part["split"] != "test") & (part["site"] == site))
    predicted = model.predict(xh[:, cut])
    return {"variant": variant, "c": c, "held_out_site": site, "n": int(len(yh)),
            "balanced_accuracy": float(balanced_accuracy_score(yh, predicted))}


def detector_of(model, variant: str, threshold: float) -> dict:
    """The fitted pipeline as the plain dict `data.scope` applies (JSON, no pickle)."""
    from ...data.scope import FEATURE_SETS, INNER_DEPTH, THUMBNAIL_SIDE

    scaler, regression = model.steps[0][1], model.steps[1][1]
    return {"variant": variant, "features": list(FEATURE_SETS[variant]), "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(), "coef": regression.coef_[0].tolist(),
            "intercept": float(regression.intercept_[0]), "threshold": float(threshold),
            "inner_depth": INNER_DEPTH, "thumbnail_side": THUMBNAIL_SIDE}


def fitted_variant(data: dict, variant: str, chosen: dict, cues: dict, b: dict | None) -> tuple[dict, dict | None]:
    """(`variant` fitted at its chosen C on every train row, thresholded on the validation rows,
    and read on B; its detector dict or None when it does not qualify)."""
    from ...data.scope import scores_of_features

    cut = columns(variant)
    x, y = rows_of(data, lambda part: part["split"] == "train")
    model = fit(x[:, cut], y, chosen["c"])
    val = {name: (model.predict_proba(data[name]["features"][data[name]["split"] == "val"][:, cut])[:, 1],
                  cue_warned(data[name]["images"][data[name]["split"] == "val"], cues))
           for name in ("brain-tumor", "lgg")}
    threshold = rule.validation_threshold(val)
    entry = {"variant": variant, "c": chosen["c"], "loso": chosen, "threshold": threshold,
             "qualifies": bool(chosen["qualifies"] and threshold is not None),
             "validation_warned": {name: float((cw | (s >= threshold)).mean()) if threshold is not None else None
                                   for name, (s, cw) in val.items()}}
    if not entry["qualifies"]:
        return entry, None
    detector = detector_of(model, variant, threshold)
    warned = b["cue_warned"] | (scores_of_features(b["features"][:, cut], detector) >= threshold)
    entry["b"] = rule.b_figures(b["labels"], b["probability"], warned)
    return entry, detector


def write_detector(detector: dict | None, folder: Path | None = None) -> Path:
    """The picked detector into the default's folder (`scope.json`), or the file removed for the
    fallback (no detector)."""
    path = Path(folder or model_folder()) / DETECTOR_FILE
    if detector is None:
        path.unlink(missing_ok=True)
        return path
    text = json.dumps({**detector, "decision": "scope_check", "record": str(RECORD)}, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
