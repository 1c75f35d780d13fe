"""The leave-one-source-out study's steps (`make loso-study`) on the committed `model/loso_study.json`:

    python -m braintumor study loso train   # each variant on every pair of A, B and LGG, scored on the third
    python -m braintumor study loso final   # `loso_pick` (and `loso_fallback`), the all-source model, `loso_default`
    python -m braintumor study loso score   # once, after final: every row and shipped model on held-out data

Pair models train as the all-source model does (model/studies/all-source/config.toml: its recipe and its caps per
source, through `models.training`), threshold on the pair's pooled validation rows; they go to
build/loso_study/. The trivial-cue model is cross-validated over every row of each source, test
rows included: a look that `reports.disclosure` counts. Finished rows are skipped on a rerun."""

from __future__ import annotations

import argparse
from pathlib import Path


from ... import config
from .. import base, held_out
from . import rules
from .scoring import (ALL_SOURCE_MODEL, MODEL_NAME, left_out_figures, pair_threshold, validation_figures_of, score,
                      shortcut_table, single_source_baseline)

RECORD = config.MODEL_DIR / "loso_study.json"
PAIR_MODELS = Path("build/loso_study")


def _fields() -> dict:
    return {"recipe": rules.RECIPE, "pick_rule": rules.PICK_RULE, "default_rule": rules.DEFAULT_RULE,
            "held_out_splits": list(rules.HELD_OUT_SPLITS)}


def _fit(variant: str, sources):
    """A model of `variant` on `sources`, capped by the all-source configuration's row caps (`train`
    caps them), as every pair row and the all-source model train."""
    from ...models.training import train

    return train(MODEL_NAME, overrides={"architecture": rules.variant_architecture(variant)}, sources=sources, verbose=2)


def train_row(spec: dict, by_name: dict) -> dict:
    from ...models.networks import save_for_inference

    sources = [by_name[s] for s in rules.pair_of(spec["held_out"])]
    model, fit, trained = _fit(spec["variant"], sources)
    path = PAIR_MODELS / f"{spec['variant']}__without_{spec['held_out']}.keras"
    save_for_inference(model, path, onnx=False)
    threshold = pair_threshold(model, sources)
    return {"sources": list(rules.pair_of(spec["held_out"])), "architecture": rules.variant_architecture(spec["variant"]),
            "model_file": str(path), "threshold": threshold, "validation": validation_figures_of(model, sources, threshold),
            "held_out_figures": left_out_figures(model, by_name[spec["held_out"]], threshold), "trained_rows": trained,
            "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run, "train_seconds": fit.seconds,
            "rows_trained": sum(trained.values()) * fit.epochs_run}


def final(record: dict, by_name: dict) -> dict:
    """The written pick and the trained variant (the fallback's when none qualified), the
    all-source model on all three sources, and `loso_default`, from the rows' figures alone."""
    written, picked = rules.pick_variant(record["rows"]), rules.trained_variant(record["rows"])
    summaries = {v: rules.variant_summary(record["rows"], v) for v in rules.VARIANTS if any(r["variant"] == v for r in record["rows"])}
    sources = [by_name[s] for s in rules.SOURCES]
    model, trained = base.train_final(lambda: _fit(picked, sources), ALL_SOURCE_MODEL)
    threshold = pair_threshold(model, sources)
    validation, single = validation_figures_of(model, sources, threshold), record["single_source"]
    single_held_out = {name: figures["roc_auc"] for name, figures in single["held_out"].items()}
    default = rules.all_source_is_default(summaries[picked]["worst_held_out_auc"], single_held_out,
                                          validation["brain-tumor"]["accuracy"], single["validation"]["brain-tumor"]["accuracy"])
    return {"summaries": summaries, "picked": picked, "picked_by_written_rule": written,
            "all_source": {"variant": picked, "architecture": rules.variant_architecture(picked), "model_file": trained.pop("model_file"),
                           "threshold": threshold, "validation": validation, **trained},
            "all_source_compared": {"picked_worst_held_out_auc": summaries[picked]["worst_held_out_auc"],
                                    "single_source_worst_unseen_auc": min(single_held_out.values())},
            "default_model": MODEL_NAME if default else "single-source"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor study loso", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "final", "score"))
    parser.add_argument("--variants", nargs="+", choices=rules.VARIANTS, help="train: these variants' rows only")
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    from ...data.external import find_external_dir, load_external
    from ...data.sources import load_sources
    from ...models.networks import set_determinism

    set_determinism()
    record = base.read_record(args.record)
    if args.step == "score" and "default_model" not in record:
        raise SystemExit("run `python -m braintumor study loso final` first: the pick comes before any held-out score")
    by_name = dict(zip(rules.SOURCES, load_sources(rules.SOURCES)))
    if args.step == "train":
        if "shortcuts" not in record:
            base.write_record(args.record, record, shortcuts=shortcut_table(by_name), **_fields())
        if "single_source" not in record:
            base.write_record(args.record, record, single_source=single_source_baseline(by_name), **_fields())
        todo = [(f"{v}__without_{h}", {"variant": v, "held_out": h}) for h in rules.SOURCES for v in (args.variants or rules.VARIANTS)]
        base.run_rows(args.record, todo, lambda spec: train_row(spec, by_name), **_fields())
    elif args.step == "final":
        base.write_record(args.record, record, **final(record, by_name), **_fields())
    else:
        outside_dir = find_external_dir()
        if outside_dir is None:
            raise SystemExit("set BRAIN_TUMOR_EXTERNAL to score the outside scans")
        held_out.score_once(args.record, lambda: score(record, by_name, load_external(outside_dir)),
                            "the leave-one-source-out study's rows and shipped models", ("outside", "test rows of A, B and LGG"),
                            key="shipped_scores", **_fields())
    return 0
