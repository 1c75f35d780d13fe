"""The new-scans study: which A + LGG variant `predict` should use for scans from elsewhere.

    python -m braintumor.studies.new_scans train [--minutes M]   # rows, resumable (make new-scans-study)
    python -m braintumor.studies.new_scans pick                  # the rule, once every row is in

Each row trains one variant of `new_scans_variants` under one seed on A plus every LGG site
but one, and scores it on the left-out site's train and validation rows and on A's
validation rows (and their head-size-matched pairs), at the pooled threshold. The rule
`new_scans_default` (braintumor/models/new_scans.py) then picks from those figures alone;
no test row, no row of B and no outside scan is scored here. Rows are trained seed by
seed, so that a stopped run holds every variant under the first seed before any under the
second. Row models go to `build/new_scans_study/` (not committed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .. import config
from ..decisions import decision
from ..models import new_scans, site_study
from . import base

RECORD = config.MODEL_DIR / "new_scans_study.json"
ROW_MODELS = Path("build/new_scans_study")
BASE_MODEL = "a-lgg"  # the configuration each variant changes one thing of
WIDER_WIDTHS = decision("new_scans_variants").parameters["wider_widths"]


def rows_to_run() -> list[tuple[str, dict]]:
    """(name, spec) of every row, seed by seed, then variant by variant, then site by site."""
    return [(f"{variant}__seed{seed}__without_{site}", {"variant": variant, "seed": seed, "held_out_site": site})
            for seed in new_scans.SEEDS for variant in new_scans.VARIANTS for site in site_study.HELD_OUT_SITES]


def variant_architecture(variant: str) -> dict:
    """configs/a-lgg.toml's architecture with the variant's one change."""
    from ..models import configs

    architecture = dict(configs.architecture(BASE_MODEL))
    if variant == "wider":
        architecture["widths"] = tuple(WIDER_WIDTHS)
    elif variant == "photometric_lgg_only":
        architecture["photometric"] = False  # applied through a gate instead (`per_source`)
    elif variant != "head_area_weighted":
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(new_scans.VARIANTS)}")
    return architecture


def training_weights(variant: str, train_part: dict, val_part: dict, main: int = 0) -> dict:
    """Classes balanced within each source (`balanced_weights`); for `head_area_weighted`, the
    main source's rows weighted by head area within it instead (`head_area_training_weights`,
    as the single-source model's are), which keeps its total weight in the pool."""
    from ..data.sources import balanced_weights
    from ..evaluation.shortcut import head_area_training_weights, slice_cues

    weights = {"sample_weight": balanced_weights(train_part["labels"], train_part["source"]),
               "val_sample_weight": balanced_weights(val_part["labels"], val_part["source"])}
    if variant == "head_area_weighted":
        fit, stop = train_part["source"] == main, val_part["source"] == main
        area = [slice_cues(part["images"][mask])["head_area"].to_numpy() for part, mask in ((train_part, fit), (val_part, stop))]
        main_weights = head_area_training_weights(area[0], train_part["labels"][fit], area[1], val_part["labels"][stop])
        weights["sample_weight"][fit] = main_weights["sample_weight"]
        weights["val_sample_weight"][stop] = main_weights["val_sample_weight"]
    return weights


def train_row(spec: dict, a, lgg, schedule: str = "full") -> dict:
    """Train one row and return its figures (validation and left-out site only)."""
    from ..data.sources import pooled
    from ..models import configs
    from ..models.networks import build_improved_cnn, save_for_inference, set_determinism, train
    from ..models.per_source import GATE_INPUT, with_gated_photometric

    variant, seed, site = spec["variant"], spec["seed"], spec["held_out_site"]
    set_determinism(seed)
    sources = [a, site_study.without_site(lgg, site)]
    train_part, val_part = pooled(sources, "train"), pooled(sources, "val")
    architecture = variant_architecture(variant)
    model = build_improved_cnn(**architecture, seed=seed)
    trained, x_train, x_val = model, train_part["images"], val_part["images"]
    if variant == "photometric_lgg_only":  # the gate is 1 on LGG's rows (source 1)
        trained = with_gated_photometric(model, seed)
        x_train = {"scan": x_train, GATE_INPUT: (train_part["source"] == 1).astype("float32")[:, None]}
        x_val = {"scan": x_val, GATE_INPUT: (val_part["source"] == 1).astype("float32")[:, None]}
    fit = train(trained, x_train, train_part["labels"], x_val, val_part["labels"],
                **configs.training_recipe(BASE_MODEL, schedule), **training_weights(variant, train_part, val_part),
                seed=seed, verbose=2)
    path = ROW_MODELS / f"{variant}__seed{seed}__without_{site}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_for_inference(model, path, onnx=False)
    threshold, balanced = base.pooled_threshold(model, sources)
    held_out = site_study.held_out_rows(lgg, site)
    return {"architecture": architecture, "model_file": str(path), "threshold": threshold,
            "validation_balanced_accuracy": balanced, "validation": base.validation_figures(model, sources, threshold),
            "held_out_figures": base.figures(held_out["labels"], base.probability(model, held_out["images"]), threshold,
                                             matched=True, images=held_out["images"]),
            "trained_rows": {s.name: int((s.split == "train").sum()) for s in sources},
            "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run, "train_seconds": fit.seconds,
            "rows_trained": len(train_part["labels"]) * fit.epochs_run}


def single_source_baseline(record: dict) -> dict:
    """The single-source model's figures on the same held-out-site rows: the held-out-site
    study scored this same model file on these same rows (model/site_study.json)."""
    earlier = site_study.read_record()
    single = earlier["single_source"]
    return {**single, "from": "model/site_study.json: single_source (the same model file on the same rows)"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick"))
    parser.add_argument("--minutes", type=float, help="start no row that would end after this many minutes")
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: 3 epochs on a sample of each source's train rows, to try the code path")
    parser.add_argument("--variants", nargs="+", choices=new_scans.VARIANTS, help="run these variants' rows only")
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    fields = {"what": "the study that chooses predict's default for scans from elsewhere (decisions "
                      "new_scans_default, new_scans_variants); braintumor/studies/new_scans.py",
              "rule": new_scans.RULE, "variants": list(new_scans.VARIANTS), "seeds": list(new_scans.SEEDS),
              "held_out_sites": list(site_study.HELD_OUT_SITES), "schedule": args.schedule}
    record = base.read_record(args.record)
    if args.step == "pick":
        try:
            pick = new_scans.new_scans_pick(record["rows"], {site: f["roc_auc"] for site, f in
                                                             record["single_source"]["held_out"].items()})
        except (KeyError, ValueError) as error:
            raise SystemExit(f"{args.record}: cannot apply new_scans_default yet ({error}); "
                             "run `python -m braintumor.studies.new_scans train` until every row is in") from None
        base.write_record(args.record, record, pick=pick, default_model=pick["default_model"],
                          single_source_worst_held_out_auc=pick["single_source_worst_held_out_auc"],
                          status="every row ran; new_scans_default applied as written", **fields)
        print(f"new-scans pick: {pick['outcome']}; predict's default by the rule: {pick['default_model']}")
        return 0
    from ..data.sources import load_sources, scheduled_source

    if "single_source" not in record:
        base.write_record(args.record, record, single_source=single_source_baseline(record), **fields)
    a, lgg = (scheduled_source(source, args.schedule) for source in load_sources(site_study.TRAINING_SOURCES))
    todo = [(name, spec) for name, spec in rows_to_run() if spec["variant"] in (args.variants or new_scans.VARIANTS)]
    record = base.run_rows(args.record, todo, lambda spec: train_row(spec, a, lgg, args.schedule),
                           minutes=args.minutes, **fields)
    done, todo = {row["name"] for row in record["rows"]}, [name for name, _ in rows_to_run()]
    status = (f"{len(done & set(todo))} of {len(todo)} rows run (rules written and committed on 2026-12-02 "
              "before any row); the pick waits for every row")
    base.write_record(args.record, record, status=status, **fields)
    print(status, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
