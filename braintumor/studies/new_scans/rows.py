"""The new-scans study's rows, its pick and its command line (`python -m braintumor study new-scans`).

Each row trains one variant of `new_scans_variants` under one seed on A plus every LGG site
but one, and scores it on the left-out site's train and validation rows and on A's
validation rows (and their head-size-matched pairs), at the pooled threshold. The rule
`new_scans_default` (`rule`) then picks from those figures alone; no test row, no row of B and
no outside scan is scored here. Rows are trained seed by seed, so that a stopped run holds
every variant under the first seed before any under the second. Row models go to
`build/new_scans_study/` (not committed). `final` and `score` are in `model`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ... import config
from .. import base, held_out, site as site_study
from . import rule
from .variants import fit_variant, variant_architecture

RECORD = config.MODEL_DIR / "new_scans_study.json"
ROW_MODELS = Path("build/new_scans_study")


def rows_to_run() -> list[tuple[str, dict]]:
    """(name, spec) of every row, seed by seed, then variant by variant, then site by site."""
    return [(f"{variant}__seed{seed}__without_{site}", {"variant": variant, "seed": seed, "held_out_site": site})
            for seed in rule.SEEDS for variant in rule.VARIANTS for site in site_study.HELD_OUT_SITES]


def train_row(spec: dict, a, lgg, schedule: str = "full") -> dict:
    """Train one row and return its figures (validation and left-out site only)."""
    from ...models.networks import save_for_inference

    variant, seed, site = spec["variant"], spec["seed"], spec["held_out_site"]
    sources = [a, site_study.without_site(lgg, site)]
    model, fit, rows = fit_variant(variant, seed, sources, schedule)
    path = ROW_MODELS / f"{variant}__seed{seed}__without_{site}.keras"
    save_for_inference(model, path, onnx=False)
    threshold, balanced = base.pooled_threshold(model, sources)
    left_out = site_study.held_out_rows(lgg, site)
    return {"architecture": variant_architecture(variant), "model_file": str(path), "threshold": threshold,
            "validation_balanced_accuracy": balanced, "validation": base.validation_figures(model, sources, threshold),
            "held_out_figures": base.held_out_figures(model, left_out, threshold),
            "trained_rows": rows, "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run, "train_seconds": fit.seconds,
            "rows_trained": sum(rows.values()) * fit.epochs_run}


def single_source_baseline(record: dict) -> dict:
    """The single-source model's figures on the same held-out-site rows: the held-out-site
    study scored this same model file on these same rows (model/site_study.json)."""
    earlier = site_study.read_record()
    single = earlier["single_source"]
    return {**single, "from": "model/site_study.json: single_source (the same model file on the same rows)"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study new-scans", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick", "final", "score"))
    parser.add_argument("--minutes", type=float, help="start no row that would end after this many minutes")
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: 3 epochs on a sample of each source's train rows, to try the code path")
    parser.add_argument("--variants", nargs="+", choices=rule.VARIANTS, help="run these variants' rows only")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--out", type=Path, help="final: write the model here instead of its configuration's file")
    return parser


def pick(path: Path, record: dict, fields: dict) -> dict:
    """Apply `new_scans_default` to the rows, once every row is in; SystemExit saying what is missing otherwise."""
    try:
        chosen = rule.new_scans_pick(record["rows"], {site: f["roc_auc"] for site, f in
                                                           record["single_source"]["held_out"].items()})
    except (KeyError, ValueError) as error:
        raise SystemExit(f"{path}: cannot apply new_scans_default yet ({error}); "
                         "run `python -m braintumor study new-scans train` until every row is in") from None
    base.write_record(path, record, pick=chosen, default_model=chosen["default_model"],
                      single_source_worst_held_out_auc=chosen["single_source_worst_held_out_auc"],
                      status="every row ran; new_scans_default applied as written", **fields)
    print(f"new-scans pick: {chosen['outcome']}; predict's default by the rule: {chosen['default_model']}")
    return chosen


def main(argv=None) -> int:
    from . import model as last

    args = _parser().parse_args(argv)
    fields = {"what": "the study that chooses predict's default for scans from elsewhere (decisions "
                      "new_scans_default, new_scans_variants); braintumor/studies/new_scans/",
              "rule": rule.RULE, "variants": list(rule.VARIANTS), "seeds": list(rule.SEEDS),
              "held_out_sites": list(site_study.HELD_OUT_SITES)}
    record = base.read_record(args.record)
    if args.step == "pick":
        pick(args.record, record, fields)
        return 0
    from ...data.sources import load_sources, scheduled_source

    a, lgg = (scheduled_source(source, args.schedule) for source in load_sources(site_study.TRAINING_SOURCES))
    if args.step == "final":
        last.record_final(args.record, record, last.final(record, a, lgg, args.schedule, args.out), **fields)
    elif args.step == "score":
        if "final" not in record:
            raise SystemExit("run `python -m braintumor study new-scans final` first: the model comes before its scores")
        held_out.score_once(args.record, lambda: {"scores": last.score(record, held_out.held_out_sets(a, lgg), lgg)},
                        f"the new-scans model ({record['final']['variant']})", held_out.HELD_OUT_SETS, **fields)
    else:
        if "single_source" not in record:
            base.write_record(args.record, record, single_source=single_source_baseline(record), **fields)
        todo = [(name, spec) for name, spec in rows_to_run() if spec["variant"] in (args.variants or rule.VARIANTS)]
        record = base.run_rows(args.record, todo, lambda spec: train_row(spec, a, lgg, args.schedule),
                               minutes=args.minutes, schedule=args.schedule, **fields)
        done = {row["name"] for row in record["rows"]} & {name for name, _ in rows_to_run()}
        status = (f"{len(done)} of {len(rows_to_run())} rows run (rules written and committed on 2026-12-02 "
                  "before any row); the pick waits for every row")
        base.write_record(args.record, record, status=status, **fields)
        print(status, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
