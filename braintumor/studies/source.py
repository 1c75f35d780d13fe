"""The source study (`make source-study`): does training on B as well as A carry to scans from
elsewhere? Its rows are A alone and A + B, with and without photometric and geometric
augmentation (braintumor/studies/source_rows.json); model/source_study.json keeps them.

    python -m braintumor study source train [--rows FILE]   # each row: validation figures only
    python -m braintumor study source score                 # the pick, then every row on held-out data, once

A row trains as the single-source model does (model/single-source/config.toml, through
`models.training.train`) with the row's architecture and recipe keys on top, on its sources'
train rows (classes balanced within each source when both are pooled), early stopping on their
validation rows; a row with "model_file" scores that file instead (the shipped single-source
model). Its threshold is chosen on the validation rows of the sources it trained on. `score`
applies `models.specs.pick_two_source` (written before any row met C) and only then scores every
row on A's test rows and matched test pairs, B's held-out rows and the outside scans C."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..models.specs import PICK_RULE, STUDY_PATH, pick_two_source
from . import base, held_out

ROWS = Path(__file__).with_name("source_rows.json")
MODELS = Path("build/source_study")
SOURCES = ("brain-tumor", "extra")
#: The configuration every trained row starts from, without its head-area weights: the rows were
#: trained before decision `head_area_weighting` (classes balanced within each source when pooled).
CONFIGURATION = "single-source"
UNWEIGHTED = {"weighting": "balanced within each source"}


def train_row(spec: dict, by_name: dict) -> dict:
    """One row: trained (or, with "model_file", loaded), thresholded and scored on validation rows."""
    from ..evaluation.metrics import choose_threshold
    from ..models.networks import load_model, save_for_inference
    from ..models.training import configured, train

    sources = [by_name[name] for name in spec["sources"]]
    overrides = {"architecture": spec.get("architecture", {}), "recipe": spec.get("recipe", {}), "training": UNWEIGHTED}
    if "model_file" in spec:
        model, fit, trained, model_file = load_model(spec["model_file"]), None, {}, spec["model_file"]
    else:
        model, fit, trained = train(CONFIGURATION, overrides=overrides, sources=sources)
        model_file = str(MODELS / f"{spec['name']}.keras")
        MODELS.mkdir(parents=True, exist_ok=True)
        save_for_inference(model, model_file)
    a_val, b_val = by_name["brain-tumor"].part("val"), by_name["extra"].part("val")
    p_a, p_b = base.probability(model, a_val["images"]), base.probability(model, b_val["images"])
    with_b = "extra" in spec["sources"]
    threshold = choose_threshold(np.concatenate([a_val["labels"]] + ([b_val["labels"]] if with_b else [])),
                                 np.concatenate([p_a] + ([p_b] if with_b else [])))
    a_figures = base.figures(a_val["labels"], p_a, threshold, matched=True, images=a_val["images"])
    architecture, recipe = configured(CONFIGURATION, overrides=overrides)
    return {"architecture": architecture, "recipe": recipe, "model_file": model_file, "threshold": threshold,
            "validation": {"brain_tumor_matched": a_figures.pop("matched"), "brain_tumor": a_figures,
                           "extra": base.figures(b_val["labels"], p_b, threshold)},
            "best_epoch": fit.best_epoch if fit else None, "epochs_run": fit.epochs_run if fit else None,
            "train_seconds": fit.seconds if fit else None,
            "rows_trained": sum(trained.values()) * fit.epochs_run if fit else 0}


def score(record: dict, by_name: dict, outside) -> dict:
    """The pick (from validation columns alone, before any score), then every row's held-out figures."""
    from ..data.external import fingerprint
    from ..evaluation.records import score_everywhere
    from ..machine import machine_description
    from ..models.networks import load_model

    picked = pick_two_source(record["rows"])
    rows = []
    for row in record["rows"]:
        scores = score_everywhere(load_model(row["model_file"]), row["threshold"], by_name["brain-tumor"],
                                  by_name["extra"], outside)
        rows.append({**row, "held_out": {name: {k: v[k] for k in base.KEPT if k in v} for name, v in scores.items()}})
        print(row["name"], {name: round(v["roc_auc"], 3) for name, v in rows[-1]["held_out"].items()}, flush=True)
    return {"rows": rows, "picked": picked["name"], "rule": PICK_RULE, "outside_fingerprint": fingerprint(outside.sha256),
            "scored_on": machine_description()["cpu"]}


def _sources() -> dict:
    from ..data.sources import load_sources

    return dict(zip(SOURCES, load_sources(SOURCES)))


def _outside():
    from ..data.external import find_external_dir, load_external

    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("set BRAIN_TUMOR_EXTERNAL to score the outside scans: the score step reads every set at once")
    return load_external(outside_dir)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor study source", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "score"))
    parser.add_argument("--rows", type=Path, default=ROWS, help=f"train: the rows, as JSON (default: {ROWS.name})")
    parser.add_argument("--record", type=Path, default=STUDY_PATH)
    args = parser.parse_args(argv)
    if args.step == "train":
        by_name = _sources()
        todo = [(spec["name"], spec) for spec in json.loads(args.rows.read_text())]
        base.run_rows(args.record, todo, lambda spec: train_row(spec, by_name))
    else:  # the gate refuses a second look before any data is read
        held_out.score_once(args.record, lambda: score(base.read_record(args.record), _sources(), _outside()),
                            "every row of the source study", ("brain-tumor test rows", "extra test rows", "outside"),
                            key="scored_on")
    return 0
