"""Scoring every model alike and writing `model/metrics.json`.

One entry per model, with the same metric names as the shipped model's `test` block, so
the README table, the report and the model card all read the same numbers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .. import config
from ..files import atomic_write
from .metrics import binary_metrics
from ..models.recipes import (CV_VARIANT_KEYS, FLIP_AVERAGE_RULE, HEAD_AREA_WEIGHTING_RULE, SEED_ENSEMBLE_RULE,
                               flip_average_wins, head_area_weighting_wins, seed_ensemble_wins, shipped_cv_variant)

#: What the author of the Kaggle notebook this project started from reported for its
#: two-conv CNN (random 20% split, so not comparable row for row with ours, which keeps
#: duplicate images on one side). Quoted, never recomputed; `seed_report` in metrics.json.
SEED_REPORT = {
    "description": "The original Kaggle notebook's two-conv CNN as its author reported it (random 20% split, 240x240x3)",
    "train_accuracy": 0.979,
    "val_accuracy": 0.887,
    "test_accuracy": 0.919,
    "missed_tumours": 41,
    "test_tumours": 334,
}


def model_entry(
    description: str,
    y_true,
    probability,
    threshold: float,
    parameters: int | None,
    train_seconds: float,
    image_derived: bool = True,
) -> dict:
    """Test metrics of one model, with what it is and what it cost to train."""
    entry = binary_metrics(y_true, probability, threshold)
    entry.update(
        description=description,
        parameters=parameters,
        train_seconds=round(float(train_seconds), 2),
        image_derived=image_derived,
    )
    return entry


def majority_probability(y_train, n: int) -> np.ndarray:
    """The majority-class baseline: every scan gets the training tumour rate as probability."""
    return np.full(n, float(np.mean(y_train)))


def _clean(value):
    """JSON has no NaN: write None instead, and plain Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def write_json(path: str | os.PathLike, payload: dict) -> None:
    text = json.dumps(_clean(payload), indent=2, sort_keys=False) + "\n"
    atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike = config.METRICS_PATH) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"'{path}' is missing; run model.ipynb (`make train`) first.")
    return json.loads(path.read_text())


#: The keys of a model's test block that `metrics.json` repeats for the shipped model.
SHIPPED_TEST_KEYS = ("n", "accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "pr_auc", "brier",
                     "threshold", "confusion", "missed_tumours", "ci95")


def fit_summary(fit, **extra) -> dict:
    """What `metrics.json` records of one training run (`models.TrainResult`)."""
    return {
        "epochs_run": fit.epochs_run,
        "best_epoch": fit.best_epoch,
        "seconds": round(fit.seconds, 1),
        "seconds_per_epoch": round(fit.seconds_per_epoch, 2),
        **extra,
    }


def ensemble_fit_summary(fits: list, **extra) -> dict:
    """`fit_summary` of a model made of one or more trained networks (`models.training.fit_networks`):
    one network as `fit_summary` gives it; several as the first network's epochs, the seconds
    of all of them together, and each member's own summary with the seed it trained from under
    `members`."""
    if len(fits) == 1:
        return fit_summary(fits[0], **extra)
    members = [fit_summary(fit, seed=fit.config["seed"]) for fit in fits]
    return {**fit_summary(fits[0], **extra), "seconds": round(sum(fit.seconds for fit in fits), 1), "members": members}


def build_metrics(
    *,
    models: dict,
    threshold: float,
    threshold_rule: str,
    validation: dict,
    model_file: str,
    training: dict,
    reference_training: dict,
    split_counts: dict,
    schedule: str,
    **sections,
) -> dict:
    """The content of `model/metrics.json`: the shipped model's threshold and test block,
    how it was trained, every model's test entry (`model_entry`), and any further sections
    (`csv_feature_check`, `trivial_cues`, `input_check`, ...) passed by keyword.

    `schedule` says which run made the numbers: "full" for the committed results, "check"
    for the shortened regression check of `make test` (never committed).
    """
    if "improved_cnn" not in models:
        raise ValueError("metrics need the shipped model's entry under 'improved_cnn'")
    return {
        "model": "improved_cnn",
        "model_file": model_file,
        "schedule": schedule,
        "threshold": threshold,
        "threshold_rule": threshold_rule,
        "test": {key: models["improved_cnn"][key] for key in SHIPPED_TEST_KEYS},
        "validation": validation,
        "training": training,
        "reference_training": reference_training,
        "models": models,
        "seed_report": SEED_REPORT,
        "split_counts": split_counts,
        **sections,
    }


#: The committed cross-validations whose out-of-fold probabilities give matched-pair figures:
#: the shipped recipe over the train and validation rows (`make cv`) and over all scans
#: (`make cv-all`), and the same network over the train and validation rows without
#: head-area weights (`python -m braintumor study cv run --weighting none --out model/cv_g1_unweighted.json`),
#: and the shipped recipe with a second network from the next seed beside the first
#: (`python -m braintumor study cv run --members 2 --out model/cv_seed_ensemble.json`).
CV_FILES = {"train_val": "cv_results.json", "all_scans": "cv_all_scans.json",
            "train_val_unweighted": "cv_g1_unweighted.json", "train_val_seed_ensemble": "cv_seed_ensemble.json"}


def read_cv_records(model_dir=None) -> dict:
    """Each `CV_FILES` record in `model_dir` (default: the repository's `model/`), None where absent."""
    model_dir = Path(model_dir or config.MODEL_DIR)
    return {pool: json.loads((model_dir / name).read_text()) if (model_dir / name).is_file() else None
            for pool, name in CV_FILES.items()}


def cross_validated_matched(cv_runs: dict) -> dict:
    """The head-size-matched figures of complete cross-validations, for `metrics.json`.

    `cv_runs` maps a pool name (a key of `CV_FILES`) to a record of
    `python -m braintumor study cv run` (or None). A record counts only when it has `matched_pairs`,
    which the script writes once every fold is done. Per pool: its file, scans, candidate,
    weighting, and per way of scoring (`CV_VARIANT_KEYS`: "plain", "flip_average",
    "seed_ensemble") the out-of-fold matched-pair ROC AUC with its interval, the number of
    pairs and the folds' mean figures; "shipped" names the way that is the shipped model.
    Under "decisions", the rules read on train-and-validation records only (never on a pool
    with test rows): mirror-averaging (`FLIP_AVERAGE_RULE`, on the shipped recipe's record),
    head-area weights (`HEAD_AREA_WEIGHTING_RULE`, the weighted single network against the
    unweighted) and the seed ensemble (`SEED_ENSEMBLE_RULE`, on the record that scored it).
    """
    summary, complete = {}, {}
    for pool, cv in cv_runs.items():
        matched = (cv or {}).get("matched_pairs")
        if not matched:
            continue
        complete[pool] = cv
        summary[pool] = {"file": cv["file"], "n_scans": cv["n_images"], "candidate": cv["setup"]["candidate"],
                         "weighting": cv["setup"].get("weighting", "none"), "pairing_rule": matched["pairing_rule"],
                         **{variant: matched[variant] for variant in CV_VARIANT_KEYS if variant in matched},
                         "shipped": shipped_cv_variant(cv)}
    decisions = {}
    if "train_val" in summary and "flip_average" in summary["train_val"]:
        decisions["mirror_average"] = {"rule": FLIP_AVERAGE_RULE, "ships": flip_average_wins(complete["train_val"])}
    train_val = {pool: cv for pool, cv in complete.items() if pool.startswith("train_val")}
    # The weighting decision compares single networks; each record's first network is one.
    weighted = [pool for pool, cv in train_val.items() if cv["setup"].get("weighting")]
    unweighted = [pool for pool, cv in train_val.items() if not cv["setup"].get("weighting")]
    if weighted and unweighted:
        decisions["head_area_weighting"] = {
            "rule": HEAD_AREA_WEIGHTING_RULE, "weighted": weighted[0], "unweighted": unweighted[0],
            "ships": head_area_weighting_wins(train_val[unweighted[0]], train_val[weighted[0]])}
    ensembles = [pool for pool, cv in train_val.items() if "seed_ensemble" in cv["matched_pairs"]]
    if ensembles:
        decisions["seed_ensemble"] = {"rule": SEED_ENSEMBLE_RULE, "record": ensembles[0],
                                      "members": train_val[ensembles[0]]["setup"]["members"],
                                      "ships": seed_ensemble_wins(train_val[ensembles[0]])}
    return {**summary, **({"decisions": decisions} if decisions else {})}


def score_everywhere(model, threshold: float, brain_tumor, extra=None, outside=None) -> dict:
    """One model's figures on every held-out set, at its validation threshold: A's test rows
    (`brain_tumor_test`), A's head-size-matched test pairs (`brain_tumor_matched_test`), the
    extra source's held-out rows (`extra_test`, when `extra` is given) and the outside scans
    (`outside`, when given: every call is a look at them). `brain_tumor` and `extra` are
    `sources.Source`s; `outside` an `external.ExternalSet`."""
    from ..models.networks import predict_tumour_probability
    from .shortcut import matched_metrics_of

    test = brain_tumor.part("test")
    probability = predict_tumour_probability(model, test["images"])
    scores = {"brain_tumor_test": binary_metrics(test["labels"], probability, threshold),
              "brain_tumor_matched_test": matched_metrics_of(test["images"], test["labels"], probability, threshold)}
    if extra is not None:
        held_out = extra.part("test")
        scores["extra_test"] = binary_metrics(held_out["labels"], predict_tumour_probability(model, held_out["images"]),
                                              threshold)
    if outside is not None:
        scores["outside"] = binary_metrics(outside.labels, predict_tumour_probability(model, outside.images), threshold)
    return scores


def rescored_differences(recorded: dict, rescored: dict) -> dict[str, float]:
    """|ROC AUC recorded - ROC AUC rescored| per set that both score: how far a committed
    model, reloaded and scored again (`score_everywhere`), is from the record it was kept for.
    Another CPU moves a committed model's probabilities by about 1e-5, its ROC AUC by less."""
    return {where: abs(recorded[where]["roc_auc"] - figures["roc_auc"])
            for where, figures in rescored.items() if where in recorded and "roc_auc" in figures}


#: The largest `rescored_differences` figure a committed model may show on any CPU.
RESCORED_TOLERANCE = 1e-3


# ---------------------------------------------------------------- tables read from the records
# (the notebooks show them as DataFrames; the documents' templates format them)

def cv_complete(cv: dict | None) -> bool:
    """Whether a cross-validation file holds every fold of every model (`make cv` resumes)."""
    return bool(cv) and bool(cv.get("models")) and all(
        model.get("summary") and len(model["folds"]) == cv["folds"] for model in cv["models"].values())


def shipped_cv_model(cv: dict) -> dict:
    """The shipped model's entry (`folds`, `summary`) in a cross-validation record."""
    return cv["models"][CV_VARIANT_KEYS[shipped_cv_variant(cv)]]


def headline_cv(cv: dict | None, cv_all: dict | None) -> dict | None:
    """The cross-validation the headline quotes: over all scans when that run is complete,
    else over the train and validation rows."""
    return cv_all if cv_complete(cv_all) else cv


def cv_recipe_rows(cv_runs: list[dict]) -> list[dict]:
    """One row per cross-validated recipe of the improved CNN (the `model/cv*.json` files):
    where early stopping starts watching, the folds' accuracy and how many epochs each ran.

    A fold that ran fewer epochs than the recipe's maximum was ended by early stopping, which
    restored the epoch `patience` epochs earlier; the earliest such epoch shows whether
    stopping fired while batch-norm noise still ruled validation loss.
    """
    rows = []
    for cv in cv_runs:
        recipe, cnn = cv["setup"]["recipe"], cv["models"]["improved_cnn"]
        folds = cnn["folds"]
        restored = [f.get("best_epoch", f["epochs_run"] - recipe["patience"]) if f["epochs_run"] < recipe["max_epochs"]
                    else None for f in folds]
        rows.append({
            "candidate": cv["setup"]["candidate"] + (" + head-area weights" if cv["setup"].get("weighting") else "")
            + (f" (first of {cv['setup']['members']} seeds)" if cv["setup"].get("members", 1) > 1 else ""),
            "file": cv["file"],
            "watches from epoch": recipe.get("start_from_epoch", 0),
            "accuracy mean": round(cnn["summary"]["accuracy"]["mean"], 4),
            "accuracy std": round(cnn["summary"]["accuracy"]["std"], 4),
            "roc_auc mean": round(cnn["summary"]["roc_auc"]["mean"], 4),
            "accuracy by fold": [round(f["accuracy"], 3) for f in folds],
            "epochs run by fold": [f["epochs_run"] for f in folds],
            "earliest restored epoch": min((epoch for epoch in restored if epoch is not None), default=None),
        })
    return rows


#: The held-out sets both models are scored on (`score_everywhere`): (key in the scores, title).
HELD_OUT_COLUMNS = (
    ("brain_tumor_test", "A: test rows"),
    ("brain_tumor_matched_test", "A: head-size-matched test pairs"),
    ("extra_test", "B: held-out rows"),
    ("outside", "C: outside scans"),
)


def study_variant(row: dict) -> str:
    """A source-study row's preprocessing and augmentation, in a few words."""
    architecture = row.get("architecture", {})
    parts = ["head crop" if architecture.get("preprocess") == "head_crop" else "whole picture"]
    if architecture.get("skull_rim"):
        parts.append(f"skull-like rim on {100 * architecture['skull_rim']:.0f}% of training scans")
    if architecture.get("photometric"):
        parts.append("gamma/gain/noise")
    if architecture.get("augment"):
        parts.append("flips/rotation/shift/zoom")
    return ", ".join(parts)


def study_sources(row: dict) -> str:
    return " + ".join("A" if source == "brain-tumor" else "B" for source in row["sources"])


def source_study_rows(study: dict) -> list[dict]:
    """One dict a study row, for a DataFrame: what it trained on, its validation ROC AUCs and
    (once scored) its held-out ROC AUCs; the picked row is marked."""
    rows = []
    for row in study["rows"]:
        validation, held_out = row["validation"], row.get("held_out", {})
        line = {
            "row": row["name"] + (" (picked)" if row["name"] == study.get("picked") else ""),
            "trained on": study_sources(row),
            "variant": study_variant(row),
            "val AUC A": validation["brain_tumor"]["roc_auc"],
            "val AUC A matched": validation["brain_tumor_matched"]["roc_auc"],
            "val AUC B": validation["extra"]["roc_auc"],
        }
        for key, title in HELD_OUT_COLUMNS:
            if key in held_out:
                line[title.split(":")[0] + " AUC"] = held_out[key]["roc_auc"]
        if "outside" in held_out:
            line["C sens"] = held_out["outside"]["sensitivity"]
            line["C spec"] = held_out["outside"]["specificity"]
        rows.append(line)
    return rows


def everywhere_rows(single: dict, two: dict | None) -> list[dict]:
    """Both models' headline figures on each held-out set (`score_everywhere`), a row per
    (set, model), for a DataFrame."""
    rows = []
    for key, title in HELD_OUT_COLUMNS:
        for label, scores in (("single-source", single), ("two-source", two or {})):
            if scores.get(key):
                entry = scores[key]
                rows.append({"held-out set": title, "model": label, "scans": entry.get("n_pairs", entry["n"]),
                             **{name: entry[name] for name in ("accuracy", "sensitivity", "specificity", "roc_auc")}})
    return rows


