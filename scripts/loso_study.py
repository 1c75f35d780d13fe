"""Leave-one-source-out study over the three training sources, and the all-source model.

Steps, in this order (`make loso-study` runs them all; each step appends to or reads
`model/loso_study.json`, committed):

1. ``train``: every variant of `braintumor.studies.loso.VARIANTS` is trained on each pair of
   sources (classes balanced within each source, early stopping and the threshold on the
   pair's pooled validation rows) and scored on the source left out (its train and
   validation rows) and on each training source's validation rows. The single-source model
   (`model/braintumor.keras`, trained on A alone) is scored on the same rows of B and LGG.
   The trivial-cue model (slice level, head size and brightness, skull rim, frame, view)
   is cross-validated per source and pooled, over every row of each source, test rows
   included: a look at the test rows (`braintumor/reports/disclosure.py` counts it). Rows
   already in the record are kept (resume).
2. ``final``: `loso.PICK_RULE` picks the variant from those figures alone ("no variant
   qualified" when none clears its floor; then `loso.fallback_variant`, decision
   `loso_fallback`, recorded after the figures were seen, gives the variant); it is trained on
   all three sources, with the same caps per source as the pair models (`model/braintumor_all_source.keras`, with its ONNX export), and
   `loso.DEFAULT_RULE` says which model `predict` uses by default.
3. ``score``: only after 2, every table row and every shipped model is scored once on the
   outside scans, and the shipped models on each source's test rows: every run of this
   step is a look at them (`braintumor/reports/disclosure.py` counts them).

Trained pair models go to `build/loso_study/` (not committed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from braintumor import config
from braintumor.data.sources import load_sources, pooled
from braintumor.evaluation.metrics import binary_metrics, choose_threshold
from braintumor.evaluation.shortcut import (POOLED_CUE_NAMES, cross_validated_cue_scores, matched_metrics_of,
                                            pooled_cues)
from braintumor.files import atomic_write
from braintumor.machine import machine_description
from braintumor.studies import loso

RECORD = config.MODEL_DIR / "loso_study.json"
PAIR_MODELS = Path("build/loso_study")
ALL_SOURCE_MODEL = config.MODEL_DIR / "braintumor_all_source.keras"
KEPT = ("n", "n_pairs", "accuracy", "sensitivity", "specificity", "roc_auc", "ci95", "confusion")


def _read() -> dict:
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {"rows": []}


def _write(record: dict) -> None:
    from braintumor.models.networks import library_versions

    record.update(versions=library_versions(), recipe=loso.RECIPE, pick_rule=loso.PICK_RULE,
                  default_rule=loso.DEFAULT_RULE, held_out_splits=list(loso.HELD_OUT_SPLITS))
    atomic_write(RECORD, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))


def _kept(figures: dict) -> dict:
    return {key: figures[key] for key in KEPT if key in figures}


def _figures(labels, probability, threshold) -> dict:
    return _kept(binary_metrics(labels, probability, threshold))


def _held_out_rows(source) -> dict:
    mask = np.isin(source.split, loso.HELD_OUT_SPLITS)
    return {"images": source.images[mask], "labels": source.labels[mask]}


def _held_out_figures(model, source, threshold) -> dict:
    """Figures on the left-out source's train+val rows; head-size-matched pairs too, where
    the source has the slice-level shortcut (A and LGG)."""
    from braintumor.models.networks import predict_tumour_probability

    rows = _held_out_rows(source)
    probability = predict_tumour_probability(model, rows["images"])
    figures = _figures(rows["labels"], probability, threshold)
    if source.name in ("brain-tumor", "lgg"):
        matched = matched_metrics_of(rows["images"], rows["labels"], probability, threshold)
        figures["matched"] = _kept(matched)
    return figures


def _validation_figures(model, sources, threshold) -> dict:
    from braintumor.models.networks import predict_tumour_probability

    return {source.name: _figures(source.part("val")["labels"],
                                  predict_tumour_probability(model, source.part("val")["images"]), threshold)
            for source in sources}


def _pair_threshold(model, sources) -> float:
    from braintumor.models.networks import predict_tumour_probability

    val = pooled(sources, "val")
    return float(choose_threshold(val["labels"], predict_tumour_probability(model, val["images"])))


def _train_rows(sources) -> dict:
    """How many train rows of each (capped) source a model was fitted on."""
    return {source.name: int((source.split == "train").sum()) for source in sources}


def _train(architecture: dict, sources):
    from braintumor.models.specs import train_on_sources

    return train_on_sources(architecture, loso.RECIPE, sources, balance=True, verbose=2)


def shortcut_table(by_name: dict) -> dict:
    """The trivial-cue model, grouped 5-fold, per source and on the three pooled."""
    table = {}
    for name, source in by_name.items():
        cues = pooled_cues(source.images, np.zeros(len(source.labels)))
        table[name] = cross_validated_cue_scores(cues, source.labels, source.groups, config.SEED,
                                                 features=[c for c in POOLED_CUE_NAMES if c != "source"])["summary"]
    everything = pooled(list(by_name.values()))
    table["pooled"] = cross_validated_cue_scores(pooled_cues(everything["images"], everything["source"]),
                                                 everything["labels"], everything["groups"], config.SEED,
                                                 features=POOLED_CUE_NAMES)["summary"]
    return table


def train_rows(by_name: dict, variants) -> None:
    from braintumor.models.networks import load_model, save_for_inference

    record = _read()
    if "shortcuts" not in record:
        started = time.perf_counter()
        record["shortcuts"] = shortcut_table(by_name)
        print(f"trivial cues done in {time.perf_counter() - started:.0f} s:",
              {k: round(v["roc_auc"]["mean"], 3) for k, v in record["shortcuts"].items()}, file=sys.stderr, flush=True)
        _write(record)
    if "single_source" not in record:
        metrics = json.loads(config.METRICS_PATH.read_text())
        model, threshold = load_model(config.MODEL_PATH), metrics["threshold"]
        record["single_source"] = {
            "model_file": str(config.MODEL_PATH), "threshold": threshold,
            "validation": _validation_figures(model, [by_name["brain-tumor"]], threshold),
            "held_out": {name: _held_out_figures(model, by_name[name], threshold) for name in ("extra", "lgg")},
        }
        _write(record)
    todo = [(v, h) for h in loso.SOURCES for v in variants]  # both variants per source first
    for number, (variant, held_out) in enumerate(todo, start=1):
        name = f"{variant}__without_{held_out}"
        if any(row["name"] == name for row in record["rows"]):
            continue
        print(f"[{number}/{len(todo)}] {name}: training on {' + '.join(loso.pair_of(held_out))}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        sources = [by_name[s] for s in loso.pair_of(held_out)]
        architecture = loso.variant_architecture(variant)
        trained_on = [loso.capped(source, config.SEED) for source in sources]
        model, fit = _train(architecture, trained_on)
        path = PAIR_MODELS / f"{name}.keras"
        PAIR_MODELS.mkdir(parents=True, exist_ok=True)
        save_for_inference(model, path, onnx=False)
        threshold = _pair_threshold(model, sources)
        row = {"name": name, "variant": variant, "held_out": held_out, "sources": list(loso.pair_of(held_out)),
               "architecture": architecture, "model_file": str(path), "threshold": threshold,
               "validation": _validation_figures(model, sources, threshold),
               "held_out_figures": _held_out_figures(model, by_name[held_out], threshold),
               "trained_rows": _train_rows(trained_on),
               "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run,
               "seconds": round(time.perf_counter() - started, 1), "machine": machine_description()["cpu"]}
        print(f"  held-out {held_out} ROC AUC {row['held_out_figures']['roc_auc']:.3f}; validation "
              + ", ".join(f"{k} {v['roc_auc']:.3f}" for k, v in row["validation"].items())
              + f"; {row['seconds']:.0f} s", file=sys.stderr, flush=True)
        record = _read()
        record["rows"] = [r for r in record["rows"] if r["name"] != name] + [row]
        _write(record)


def final_model(by_name: dict) -> None:
    from braintumor.models.networks import save_for_inference

    record = _read()
    # From held-out and validation figures only: the written rule's outcome, and the variant trained
    # (the written pick, or `loso_fallback`'s when it qualified none).
    written, picked = loso.pick_variant(record["rows"]), loso.trained_variant(record["rows"])
    record["summaries"] = {v: loso.variant_summary(record["rows"], v) for v in loso.VARIANTS
                           if any(r["variant"] == v for r in record["rows"])}
    record["picked"], record["picked_by_written_rule"] = picked, written
    print(f"the written rule: {written}; training {picked} on all three sources", file=sys.stderr, flush=True)
    started = time.perf_counter()
    sources = [by_name[s] for s in loso.SOURCES]
    architecture = loso.variant_architecture(picked)
    # The recipe the table describes: the same caps per source (see loso.TRAIN_CAP).
    trained_on = [loso.capped(source, config.SEED) for source in sources]
    model, fit = _train(architecture, trained_on)
    save_for_inference(model, ALL_SOURCE_MODEL)
    threshold = _pair_threshold(model, sources)
    validation = _validation_figures(model, sources, threshold)
    single = record["single_source"]
    default = loso.all_source_is_default(
        record["summaries"][picked]["worst_held_out_auc"],
        {name: figures["roc_auc"] for name, figures in single["held_out"].items()},
        validation["brain-tumor"]["accuracy"], single["validation"]["brain-tumor"]["accuracy"])
    record["all_source"] = {"variant": picked, "architecture": architecture, "model_file": str(ALL_SOURCE_MODEL),
                            "trained_rows": _train_rows(trained_on),
                            "threshold": threshold, "validation": validation, "best_epoch": fit.best_epoch,
                            "epochs_run": fit.epochs_run, "seconds": round(time.perf_counter() - started, 1),
                            "machine": machine_description()["cpu"]}
    record["all_source_compared"] = {
        "picked_worst_held_out_auc": record["summaries"][picked]["worst_held_out_auc"],
        "single_source_worst_unseen_auc": min(figures["roc_auc"] for figures in single["held_out"].values())}
    record["default_model"] = "all-source" if default else "single-source"
    print(f"default model by the rule: {record['default_model']}", file=sys.stderr, flush=True)
    _write(record)


def score(by_name: dict) -> None:
    """Outside scans for every row and shipped model, test rows of each source for the shipped
    models: once, after the pick. Every call of this step is a look at held-out data."""
    from braintumor.data.external import find_external_dir, load_external
    from braintumor.models.networks import load_model, predict_tumour_probability

    record = _read()
    if "default_model" not in record:
        raise SystemExit("run `scripts/loso_study.py final` first: the pick comes before any outside score")
    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("set BRAIN_TUMOR_EXTERNAL to score the outside scans")
    outside = load_external(outside_dir)
    metrics = json.loads(config.METRICS_PATH.read_text())
    shipped = {"single-source": (config.MODEL_PATH, metrics["threshold"]),
               "two-source": (config.MODEL_DIR / "braintumor_two_source.keras",
                              metrics["model_files"]["braintumor_two_source.keras"]["threshold"]),
               "all-source": (ALL_SOURCE_MODEL, record["all_source"]["threshold"])}
    for row in record["rows"]:
        model = load_model(row["model_file"])
        row["outside"] = _figures(outside.labels, predict_tumour_probability(model, outside.images), row["threshold"])
        print(row["name"], "outside ROC AUC", round(row["outside"]["roc_auc"], 3), file=sys.stderr, flush=True)
    record["shipped_scores"] = {}
    for name, (path, threshold) in shipped.items():
        model = load_model(path)
        scores = {"outside": _figures(outside.labels, predict_tumour_probability(model, outside.images), threshold)}
        for source in by_name.values():
            test = source.part("test")
            probability = predict_tumour_probability(model, test["images"])
            scores[f"{source.name}_test"] = _figures(test["labels"], probability, threshold)
            if source.name in ("brain-tumor", "lgg"):  # head-size-matched pairs on held-out rows (patients, for C)
                matched = matched_metrics_of(test["images"], test["labels"], probability, threshold)
                scores[f"{source.name}_test"]["matched"] = _kept(matched)
        record["shipped_scores"][name] = {"threshold": threshold, **scores}
        print(name, {k: round(v["roc_auc"], 3) for k, v in scores.items()}, file=sys.stderr, flush=True)
    record["scored_on"] = machine_description()["cpu"]
    _write(record)


def main(argv: list[str]) -> int:
    from braintumor.models.networks import set_determinism

    if not argv or argv[0] not in ("train", "final", "score"):
        print(__doc__, file=sys.stderr)
        return 2
    set_determinism()
    by_name = dict(zip(loso.SOURCES, load_sources(loso.SOURCES)))
    if argv[0] == "train":
        train_rows(by_name, argv[1:] or list(loso.VARIANTS))
    elif argv[0] == "final":
        final_model(by_name)
    else:
        score(by_name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
