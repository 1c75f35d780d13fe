"""The second scope study's steps, the rule `scope_sequence_cnn` as written: a variant's
leave-one-LGG-site-out row and its summary, the cheap cues re-set per source, a qualifying variant
trained on every train row and thresholded on the validation rows, the pick, and what it writes
into predict's default's folder (scope.json, scope.onnx). `cli` runs them in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ... import config
from ...decisions import decision
from ...files import atomic_write
from .. import base
from ..scope.rule import b_figures, scope_pick, validation_threshold
from ..scope.sets import DETECTOR_FILE, cue_warned, model_folder
from ..site import HELD_OUT_SITES
from . import inputs as study_inputs
from . import network

DECISION = decision("scope_sequence_cnn")
PARAMETERS = DECISION.parameters
VARIANTS = tuple(PARAMETERS["variants"])
RECORD = config.MODEL_DIR / "scope_cnn_study.json"
NETWORK_FILE = "scope.onnx"
NO_DETECTOR = "no detector (the re-set cheap cues alone)"
FIELDS = {"what": "the second study of the check of scans outside the models' scope (decision scope_sequence_cnn); "
                  "braintumor/studies/scope_cnn/", "decision": DECISION.name,
          "rule": DECISION.rule, "variants": list(VARIANTS), "held_out_sites": list(HELD_OUT_SITES)}


def loso_row(data: dict, variant: str, site: str) -> dict:
    """One row: trained on A's train rows and the other sites' FLAIR and T1 train rows; its
    balanced accuracy, FLAIR against T1, on `site`'s train and validation rows at 0.5."""
    from sklearn.metrics import balanced_accuracy_score

    x, y = study_inputs.rows(data, variant, lambda part: (part["split"] == "train") & (part["site"] != site))
    model, trained = network.train(x, y)
    held = {name: part for name, part in data.items() if name != "brain-tumor"}
    xh, yh = study_inputs.rows(held, variant, lambda part: (part["split"] != "test") & (part["site"] == site))
    predicted = (network.probability(model, xh) >= 0.5).astype(int)
    return {"variant": variant, "held_out_site": site, "n": int(len(yh)),
            "balanced_accuracy": float(balanced_accuracy_score(yh, predicted)), **trained}


def loso_summary(rows: list[dict], variant: str) -> dict:
    """{"sites": {site: balanced accuracy}, "mean", "qualifies"}; ValueError while a site is missing."""
    sites = {row["held_out_site"]: row["balanced_accuracy"] for row in rows if row["variant"] == variant}
    missing = [site for site in HELD_OUT_SITES if site not in sites]
    if missing:
        raise ValueError(f"{variant}: no row for site {', '.join(missing)}")
    return {"sites": sites, "mean": float(np.mean(list(sites.values()))),
            "qualifies": bool(min(sites.values()) >= PARAMETERS["min_site_balanced_accuracy"])}


def reset_cues(data: dict) -> dict:
    """The cheap cues re-set per source: the first q of the rule's list at which they alone warn
    at most `max_cue_val_warned` of A's and of LGG's validation rows (the last, 0, regardless)."""
    from ...data.input_check import fit_input_check_by_source

    train = {name: data[name]["images"][data[name]["split"] == "train"] for name in ("brain-tumor", "lgg")}
    for q in PARAMETERS["cue_quantiles"]:
        cues = fit_input_check_by_source(train, q)
        warned = {name: float(cue_warned(data[name]["images"][data[name]["split"] == "val"], cues).mean())
                  for name in ("brain-tumor", "lgg")}
        if max(warned.values()) <= PARAMETERS["max_cue_val_warned"] or q == PARAMETERS["cue_quantiles"][-1]:
            return {**cues, "decision": DECISION.name, "validation_warned": warned}
    raise AssertionError("unreachable: the last quantile is taken regardless")


def fitted_variant(data: dict, variant: str, summary: dict, cues: dict, b: dict | None):
    """(entry, model): `variant` trained on every train row, thresholded on the validation rows
    (with the re-set cues) and, where it qualifies, read on B."""
    x, y = study_inputs.rows(data, variant, lambda part: part["split"] == "train")
    model, trained = network.train(x, y)
    val = {name: (network.probability(model, data[name]["inputs"][variant][data[name]["split"] == "val"]),
                  cue_warned(data[name]["images"][data[name]["split"] == "val"], cues))
           for name in ("brain-tumor", "lgg")}
    # the detector's own budget: its threshold is set on its scores alone (no cue warning counted)
    threshold = validation_threshold({name: (s, np.zeros(len(s), bool)) for name, (s, _) in val.items()},
                                     PARAMETERS["max_detector_val_warned"])
    t1_val = data["lgg-t1"]["split"] == "val"
    t1_scores = network.probability(model, data["lgg-t1"]["inputs"][variant][t1_val])
    entry = {"variant": variant, "loso": summary, "threshold": threshold, **trained,
             "rows_per_second": round(trained["rows_trained"] / trained["train_seconds"], 1),
             "qualifies": bool(summary["qualifies"] and threshold is not None),
             "validation_warned": {name: {"detector": float((s >= threshold).mean()), "cues": float(cw.mean()),
                                          "either": float((cw | (s >= threshold)).mean())} if threshold is not None else None
                                   for name, (s, cw) in val.items()},
             "t1_validation_warned": float((t1_scores >= threshold).mean()) if threshold is not None else None}
    if entry["qualifies"]:
        warned = b["cue_warned"] | (scores_on(b["images"], variant, model, b["extracted"]) >= threshold)
        entry["b"] = b_figures(b["labels"], b["probability"], warned)
    return entry, model


def scores_on(images, variant: str, model, extracted=None) -> np.ndarray:
    """The Keras detector's out-of-scope probabilities for raw scans."""
    return network.probability(model, study_inputs.variant_inputs(images, extracted, (variant,))[variant])


def detector_of(variant: str, threshold: float) -> dict:
    """The scope.json `data.scope` applies (kind "cnn"; the network is scope.onnx beside it)."""
    from ...data.scope import SEQUENCE_INPUTS

    side, extraction = SEQUENCE_INPUTS[variant]
    return {"kind": "cnn", "variant": variant, "side": side, "extraction": extraction, "threshold": float(threshold),
            "network": NETWORK_FILE, "decision": DECISION.name, "record": str(RECORD)}


def write_pick(detector: dict | None, model, cues: dict, folder: Path | None = None) -> Path:
    """The pick into predict's default's folder: scope.json with the re-set cues, and scope.onnx;
    for the fallback, scope.json with the cues alone (no network)."""
    folder = Path(folder or model_folder())
    path = folder / DETECTOR_FILE
    written = {**(detector or {"kind": "cues", "decision": DECISION.name, "record": str(RECORD)}), "input_check": cues}
    if detector is not None:
        network.export(model, folder / NETWORK_FILE)
    else:
        (folder / NETWORK_FILE).unlink(missing_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8"))
    return path


def scope_cnn_pick(fitted: list[dict]) -> dict:
    """The rule's pick over the fitted variants (in the rule's order), fallback included."""
    pick = scope_pick(fitted, PARAMETERS["b_unwarned_floor"], PARAMETERS["tie"])
    return {**pick, "outcome": NO_DETECTOR} if pick["reason"] == "no variant qualified: fallback" else pick
