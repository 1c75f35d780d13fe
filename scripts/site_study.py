"""Leave one LGG site out: the recipe trained on A and the LGG FLAIR slices, chosen on sites it never saw.

Steps, in this order (`make site-study` runs them all; each appends to or reads
`model/site_study.json`, committed; a finished row is kept and skipped on a rerun):

1. ``train``: every variant of `braintumor.models.site_study.VARIANTS` is trained on A plus
   every LGG site but one (CS, DU, FG in turn), classes balanced within each source, early
   stopping on the pooled validation rows, the threshold by `choose_pooled_threshold`; each
   row is scored on the left-out site's train and validation rows and on A's validation rows
   (and its head-size-matched pairs). The single-source model is scored on the same rows.
2. ``final``: `site_study.PICK_RULE` picks from those figures alone; the candidate is trained
   on A and all four sites (`model/braintumor_a_lgg.keras`, with its ONNX export), and
   `site_study.DEFAULT_RULE` says whether it becomes `predict`'s default.
3. ``score``: only after 2, the A + LGG and single-source models are scored once on A's and
   LGG's test rows, set B (every row: evaluation only, collection-confounded) and the outside
   scans, and every site row on the outside scans; the refitted input check's firing rates
   are measured on the same sets. Every run of this step is a look at held-out data
   (`braintumor/reports/disclosure.py` counts them).

Pair models go to `build/site_study/` (not committed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from braintumor import config
from braintumor.data.sources import load_sources, pooled
from braintumor.machine import machine_description
from braintumor.models import site_study
from braintumor.studies import base

RECORD = config.MODEL_DIR / "site_study.json"
ROW_MODELS = Path("build/site_study")
FINAL_MODEL = config.MODEL_DIR / "braintumor_a_lgg.keras"


def _read() -> dict:
    return base.read_record(RECORD)


def _write(record: dict) -> None:
    base.write_record(RECORD, record, recipe=site_study.RECIPE, pick_rule=site_study.PICK_RULE,
                      default_rule=site_study.DEFAULT_RULE, held_out_splits=list(site_study.HELD_OUT_SPLITS),
                      training_sources=list(site_study.TRAINING_SOURCES))


_figures, _probability, _validation, _threshold = (base.figures, base.probability, base.validation_figures,
                                                   base.pooled_threshold)


def _held_out(model, lgg, site, threshold) -> dict:
    rows = site_study.held_out_rows(lgg, site)
    return _figures(rows["labels"], _probability(model, rows["images"]), threshold, matched=True, images=rows["images"])


def _train(architecture, sources):
    from braintumor.models.specs import train_on_sources

    return train_on_sources(architecture, site_study.RECIPE, sources, balance=True, verbose=2)


def _trained_rows(sources) -> dict:
    return {source.name: int((source.split == "train").sum()) for source in sources}


def train_rows(a, lgg, variants) -> None:
    from braintumor.models.networks import load_model, save_for_inference

    record = _read()
    if "single_source" not in record:
        metrics = json.loads(config.METRICS_PATH.read_text())
        model, threshold = load_model(config.MODEL_PATH), metrics["threshold"]
        record["single_source"] = {
            "model_file": str(config.MODEL_PATH), "threshold": threshold,
            "validation": _validation(model, [a], threshold),
            "held_out": {site: _held_out(model, lgg, site, threshold) for site in site_study.HELD_OUT_SITES}}
        _write(record)
    todo = [(variant, site) for variant in variants for site in site_study.HELD_OUT_SITES]
    for number, (variant, site) in enumerate(todo, start=1):
        name = f"{variant}__without_{site}"
        if any(row["name"] == name for row in record["rows"]):
            continue
        print(f"[{number}/{len(todo)}] {name}: training on A + LGG less {site}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        sources = [a, site_study.without_site(lgg, site)]
        architecture = site_study.variant_architecture(variant)
        model, fit = _train(architecture, sources)
        path = ROW_MODELS / f"{name}.keras"
        ROW_MODELS.mkdir(parents=True, exist_ok=True)
        save_for_inference(model, path, onnx=False)
        threshold, balanced = _threshold(model, sources)
        row = {"name": name, "variant": variant, "held_out_site": site, "architecture": architecture,
               "model_file": str(path), "threshold": threshold, "validation_balanced_accuracy": balanced,
               "validation": _validation(model, sources, threshold),
               "held_out_figures": _held_out(model, lgg, site, threshold),
               "trained_rows": _trained_rows(sources), "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run,
               "seconds": round(time.perf_counter() - started, 1), "machine": machine_description()["cpu"]}
        print(f"  held-out {site} ROC AUC {row['held_out_figures']['roc_auc']:.3f}; A validation accuracy "
              f"{row['validation']['brain-tumor']['accuracy']:.4f}; {row['seconds']:.0f} s", file=sys.stderr, flush=True)
        record = _read()
        record["rows"] = [r for r in record["rows"] if r["name"] != name] + [row]
        _write(record)


def final_model(a, lgg) -> None:
    from braintumor.models.networks import save_for_inference

    record = _read()
    single = record["single_source"]
    single_accuracy = single["validation"]["brain-tumor"]["accuracy"]
    pick = site_study.pick_variant(record["rows"], single_accuracy)  # held-out-site and A validation figures only
    record["pick"] = pick
    print(f"site pick: {pick['outcome']}; training {pick['candidate']} on A + all four sites", file=sys.stderr, flush=True)
    started = time.perf_counter()
    sources = [a, lgg]
    architecture = site_study.variant_architecture(pick["candidate"])
    model, fit = _train(architecture, sources)
    save_for_inference(model, FINAL_MODEL)
    threshold, balanced = _threshold(model, sources)
    validation = _validation(model, sources, threshold)
    single_held_out = {site: figures["roc_auc"] for site, figures in single["held_out"].items()}
    default = site_study.site_model_is_default(pick, single_held_out, validation["brain-tumor"]["accuracy"], single_accuracy)
    record["final"] = {"variant": pick["candidate"], "architecture": architecture, "model_file": str(FINAL_MODEL),
                       "trained_rows": _trained_rows(sources), "threshold": threshold,
                       "validation_balanced_accuracy": balanced, "validation": validation,
                       "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run,
                       "seconds": round(time.perf_counter() - started, 1), "machine": machine_description()["cpu"]}
    record["compared"] = {
        "picked_worst_held_out_auc": (pick["summaries"][pick["outcome"]]["worst_held_out_auc"]
                                      if pick["outcome"] in pick["summaries"] else None),
        "single_source_worst_held_out_auc": min(single_held_out.values())}
    record["default_model"] = "a-lgg" if default else "single-source"
    print(f"default model by the rule: {record['default_model']}", file=sys.stderr, flush=True)
    _write(record)


def score(a, lgg) -> None:
    """Held-out data, once, after the pick: every call of this step is a look at them."""
    from braintumor.data.external import find_external_dir, load_external
    from braintumor.data.input_check import fit_input_check, input_warnings
    from braintumor.data.sources import extra_source
    from braintumor.models.networks import load_model

    record = _read()
    if "default_model" not in record:
        raise SystemExit("run `scripts/site_study.py final` first: the pick comes before any held-out score")
    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("set BRAIN_TUMOR_EXTERNAL to score the outside scans")
    outside, b = load_external(outside_dir), extra_source()
    metrics = json.loads(config.METRICS_PATH.read_text())
    sets = {"brain-tumor_test": (a.part("test")["images"], a.part("test")["labels"], True),
            "lgg_test": (lgg.part("test")["images"], lgg.part("test")["labels"], True),
            "extra_all": (b.images, b.labels, False),
            "outside": (outside.images, outside.labels, False)}
    for row in record["rows"]:
        model = load_model(row["model_file"])
        row["outside"] = _figures(outside.labels, _probability(model, outside.images), row["threshold"])
    shipped = {"a-lgg": (FINAL_MODEL, record["final"]["threshold"]),
               "single-source": (config.MODEL_PATH, metrics["threshold"])}
    record["scores"] = {}
    for name, (path, threshold) in shipped.items():
        model = load_model(path)
        scores = {key: _figures(labels, _probability(model, images), threshold, matched=matched, images=images)
                  for key, (images, labels, matched) in sets.items()}
        lgg_test = lgg.part("test")
        sites = site_study.site_of(lgg_test["names"])
        probability = _probability(model, lgg_test["images"])
        scores["lgg_test_by_site"] = {site: _figures(lgg_test["labels"][sites == site], probability[sites == site], threshold)
                                      for site in site_study.HELD_OUT_SITES}
        record["scores"][name] = {"threshold": threshold, **scores}
        print(name, {k: round(v["roc_auc"], 3) for k, v in scores.items() if "roc_auc" in v}, file=sys.stderr, flush=True)
    rule = fit_input_check(pooled([a, lgg], "train")["images"])
    warn_sets = {"brain-tumor_test": a.part("test")["images"], "lgg_val": lgg.part("val")["images"],
                 "outside": outside.images, "extra_all": b.images}
    record["input_check"] = {"rule": rule, "firing_rate": {
        key: float(np.mean([w is not None for w in input_warnings(images, rule)])) for key, images in warn_sets.items()}}
    print("input check fires on", {k: round(v, 3) for k, v in record["input_check"]["firing_rate"].items()},
          file=sys.stderr, flush=True)
    record["scored_on"] = machine_description()["cpu"]
    _write(record)


def main(argv: list[str]) -> int:
    from braintumor.models.networks import set_determinism

    if not argv or argv[0] not in ("train", "final", "score"):
        print(__doc__, file=sys.stderr)
        return 2
    set_determinism()
    a, lgg = load_sources(site_study.TRAINING_SOURCES)
    if argv[0] == "train":
        train_rows(a, lgg, argv[1:] or list(site_study.VARIANTS))
    elif argv[0] == "final":
        final_model(a, lgg)
    else:
        score(a, lgg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
