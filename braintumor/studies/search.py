"""The improved-CNN search: train candidate architectures and recipes, score validation rows only
(all of them, and their head-size-matched pairs, where slice size says nothing of the label).

    python -m braintumor study search train '[{"name": "c1", "architecture": {"resolution": 128}}]'

A candidate is the single-source configuration (model/single-source/config.toml, through
`models.training.train`) with its "architecture" and "recipe" keys on top, trained on A's train
rows. Rows go to model/improved_search.json (committed, shown in model.ipynb); a finished row is
not trained again. `models.networks.choose_improved` picks the row that ships (decision
`improved_cnn`); candidates come from the GPU screen (scripts/gpu_screen.py) where one was run."""

from __future__ import annotations

import argparse
import json

from .. import config
from . import base

RECORD = config.MODEL_DIR / "improved_search.json"
CONFIGURATION = "single-source"
#: The search's rows ran before decision `head_area_weighting`: trained without training weights.
UNWEIGHTED = {"weighting": "none"}


def train_row(spec: dict, a, val_pairs) -> dict:
    """One candidate trained, thresholded on the validation rows and scored on them and their matched pairs."""
    from ..evaluation.metrics import binary_metrics, choose_threshold
    from ..evaluation.shortcut import matched_metrics
    from ..models.training import configured, train

    overrides = {"architecture": spec.get("architecture", {}), "recipe": spec.get("recipe", {}), "training": UNWEIGHTED}
    model, fit, trained = train(CONFIGURATION, overrides=overrides, sources=[a])
    architecture, recipe = configured(CONFIGURATION, overrides=overrides)
    val = a.part("val")
    probability = base.probability(model, val["images"])
    threshold = choose_threshold(val["labels"], probability)
    matched = matched_metrics(val["labels"], probability, threshold, *val_pairs)
    best = fit.best_epoch - 1
    return {"architecture": architecture, "recipe": recipe, "parameters": int(model.count_params()),
            "val_accuracy": round(fit.history["val_accuracy"][best], 4), "val_loss": round(fit.history["val_loss"][best], 4),
            "val_roc_auc": round(binary_metrics(val["labels"], probability, with_ci=False)["roc_auc"], 4),
            "val_matched_pairs": int(matched["n_pairs"]), "val_matched_accuracy": round(matched["accuracy"], 4),
            "val_matched_roc_auc": round(matched["roc_auc"], 4), "best_epoch": fit.best_epoch,
            "epochs_run": fit.epochs_run, "seconds_per_epoch": round(fit.seconds_per_epoch, 1),
            "train_seconds": round(fit.seconds, 1), "rows_trained": trained[a.name] * fit.epochs_run,
            "val_accuracy_by_epoch": [round(v, 4) for v in fit.history["val_accuracy"]]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor study search", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train",))
    parser.add_argument("candidates", type=json.loads, help="a JSON list of {name, architecture?, recipe?}")
    parser.add_argument("--record", default=RECORD)
    args = parser.parse_args(argv)
    from ..data.sources import brain_tumor_source
    from ..evaluation.shortcut import head_size_matched_pairs, slice_cues

    a = brain_tumor_source()
    val = a.part("val")
    head_area = slice_cues(val["images"])["head_area"].to_numpy()
    val_pairs = (head_size_matched_pairs(head_area, val["labels"]), head_area)
    base.run_rows(args.record, [(spec["name"], spec) for spec in args.candidates],
                  lambda spec: train_row(spec, a, val_pairs))
    return 0
