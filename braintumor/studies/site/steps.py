"""The held-out-site study's steps (`make site-study`) on the committed `model/site_study.json`:

    python -m braintumor study site train   # each variant on A + every LGG site but one, scored on that site
    python -m braintumor study site final   # `site_pick`, the pick on A + all four sites, `site_default`
    python -m braintumor study site score   # once, after final: a look at held-out data

A finished row is skipped on a rerun; rows are scored on the left-out site's train and validation rows
and A's validation rows (and matched pairs), threshold pooled; row models go to build/site_study/."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ... import config
from ...machine import machine_description
from ...models import configs
from .. import base, held_out
from . import rules

RECORD = config.MODEL_DIR / "site_study.json"
ROW_MODELS = Path("build/site_study")
FINAL_MODEL = configs.model_file(rules.MODEL_NAME)  # model/studies/a-lgg/model.keras


def _fields() -> dict:
    return {"recipe": rules.RECIPE, "pick_rule": rules.PICK_RULE, "default_rule": rules.DEFAULT_RULE,
            "held_out_splits": list(rules.HELD_OUT_SPLITS), "training_sources": list(rules.TRAINING_SOURCES)}


def _train(architecture, sources, schedule):
    from ...models.training import train

    return train(rules.MODEL_NAME, schedule, {"architecture": architecture}, sources=sources, verbose=2)


def train_row(spec: dict, a, lgg, schedule: str = "full") -> dict:
    from ...models.networks import save_for_inference

    variant, site = spec["variant"], spec["held_out_site"]
    sources, architecture = [a, rules.without_site(lgg, site)], rules.variant_architecture(variant)
    model, fit, trained = _train(architecture, sources, schedule)
    path = ROW_MODELS / f"{variant}__without_{site}.keras"
    save_for_inference(model, path, onnx=False)
    threshold, balanced = base.pooled_threshold(model, sources)
    return {"architecture": architecture, "model_file": str(path), "threshold": threshold,
            "validation_balanced_accuracy": balanced, "validation": base.validation_figures(model, sources, threshold),
            "held_out_figures": base.held_out_figures(model, rules.held_out_rows(lgg, site), threshold), "trained_rows": trained,
            "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run, "train_seconds": fit.seconds,
            "rows_trained": sum(trained.values()) * fit.epochs_run}


def final(record: dict, a, lgg, schedule: str = "full", out: Path | None = None) -> dict:
    """`site_pick` from the rows alone, the candidate trained on A and all four sites, `site_default`."""
    single = record["single_source"]
    single_accuracy = single["validation"]["brain-tumor"]["accuracy"]
    pick = rules.pick_variant(record["rows"], single_accuracy)  # held-out-site and A validation figures only
    sources, architecture = [a, lgg], rules.variant_architecture(pick["candidate"])
    model, trained = base.train_final(lambda: _train(architecture, sources, schedule), out or FINAL_MODEL)
    threshold, balanced = base.pooled_threshold(model, sources)
    validation = base.validation_figures(model, sources, threshold)
    single_held_out = {site: figures["roc_auc"] for site, figures in single["held_out"].items()}
    default = rules.site_model_is_default(pick, single_held_out, validation["brain-tumor"]["accuracy"], single_accuracy)
    summary = pick["summaries"].get(pick["outcome"], {})
    return {"pick": pick, "default_model": rules.MODEL_NAME if default else "single-source",
            "final": {"variant": pick["candidate"], "architecture": architecture, "model_file": trained.pop("model_file"),
                      "threshold": threshold, "validation_balanced_accuracy": balanced, "validation": validation, **trained},
            "compared": {"picked_worst_held_out_auc": summary.get("worst_held_out_auc"),
                         "single_source_worst_held_out_auc": min(single_held_out.values())}}


def score(record: dict, a, lgg, sets: dict) -> dict:
    """The A + LGG and single-source models on `sets`, every row on the outside scans, and the
    input check refitted on the pooled train rows with its firing rates on the same sets."""
    from ...data.input_check import fit_input_check, input_warnings
    from ...data.sources import pooled
    from ...models.networks import load_model

    outside_images, outside_labels, _ = sets["outside"]
    rows = [{**row, "outside": base.figures(outside_labels, base.probability(load_model(row["model_file"]), outside_images),
                                            row["threshold"])} for row in record["rows"]]
    shipped = {rules.MODEL_NAME: (FINAL_MODEL, record["final"]["threshold"]),
               "single-source": (config.MODEL_PATH, json.loads(config.METRICS_PATH.read_text())["threshold"])}
    scores, test = {}, lgg.part("test")
    for name, (path, threshold) in shipped.items():
        model = load_model(path)
        scores[name] = {"threshold": threshold, **{key: base.figures(labels, base.probability(model, images), threshold,
                                                                     matched=matched, images=images)
                                                   for key, (images, labels, matched) in sets.items()}}
        sites, probability = rules.site_of(test["names"]), base.probability(model, test["images"])
        scores[name]["lgg_test_by_site"] = {site: base.figures(test["labels"][sites == site], probability[sites == site],
                                                               threshold) for site in rules.HELD_OUT_SITES}
    rule = fit_input_check(pooled([a, lgg], "train")["images"])
    warned = {key: images for key, (images, _, _) in sets.items() if key != "lgg_test"} | {"lgg_val": lgg.part("val")["images"]}
    rates = {key: float(np.mean([w is not None for w in input_warnings(images, rule)])) for key, images in warned.items()}
    return {"rows": rows, "scores": scores, "input_check": {"rule": rule, "firing_rate": rates}, "scored_on": machine_description()["cpu"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor study site", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "final", "score"))
    parser.add_argument("--schedule", default="full", choices=("full", "check"), help="check: a short run of the code path")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--out", type=Path, help="final: write the model here instead of model/studies/a-lgg/model.keras")
    args = parser.parse_args(argv)
    from ...data.sources import load_sources, scheduled_source
    from ...models.networks import set_determinism

    set_determinism()
    record, sources = base.read_record(args.record), lambda: [scheduled_source(source, args.schedule)
                                                               for source in load_sources(rules.TRAINING_SOURCES)]
    if args.step == "score":  # the gate first: a refused look loads no data
        if "final" not in record:
            raise SystemExit("run `python -m braintumor study site final` first: the pick comes before any held-out score")

        def scored():
            a, lgg = sources()
            return score(record, a, lgg, held_out.held_out_sets(a, lgg))

        held_out.score_once(args.record, scored, "the held-out-site study's models", held_out.HELD_OUT_SETS, **_fields())
        return 0
    a, lgg = sources()
    if args.step == "train":
        if "single_source" not in record:
            baseline = held_out.single_source_baseline(a, {site: rules.held_out_rows(lgg, site) for site in rules.HELD_OUT_SITES})
            base.write_record(args.record, record, single_source=baseline, **_fields())
        todo = [(f"{variant}__without_{site}", {"variant": variant, "held_out_site": site})
                for variant in rules.VARIANTS for site in rules.HELD_OUT_SITES]
        base.run_rows(args.record, todo, lambda spec: train_row(spec, a, lgg, args.schedule), **_fields())
    else:
        base.write_record(args.record, record, **final(record, a, lgg, args.schedule, args.out), **_fields())
    return 0
