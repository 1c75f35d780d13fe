"""The brain-extraction study's rows, its pick and its command line
(`python -m braintumor study extraction`).

Each row of a trained variant trains the new-scans recipe (model/new-scans/config.toml, through
`models.training.train`, the one entry point) on A plus every LGG site but one, under one seed,
with the variant's preprocessing, and scores the left-out site's train and validation rows and
A's validation rows (with their head-size-matched pairs) at the pooled threshold. A
`single_source_extracted` row scores the committed single-source model as it is. No test row, no
row of B and no outside scan is scored here. Row models are not kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ... import config
from .. import base, site as site_study
from . import rule

RECORD = config.MODEL_DIR / "brain_extraction_study.json"
MODEL = "new-scans"  # the configuration the trained variants change one setting of


def rows_to_run() -> list[tuple[str, dict]]:
    """(name, spec) of every row: the scoring-only rows first (minutes), then seed by seed,
    variant by variant, site by site, so that a stopped run holds every variant under the first seed."""
    scored = [(f"single_source_extracted__without_{site}",
               {"variant": "single_source_extracted", "seed": None, "held_out_site": site})
              for site in site_study.HELD_OUT_SITES]
    return scored + [(f"{variant}__seed{seed}__without_{site}", {"variant": variant, "seed": seed, "held_out_site": site})
                     for seed in rule.SEEDS for variant in rule.TRAINED for site in site_study.HELD_OUT_SITES]


def _extracted(rows: dict) -> dict:
    from ...data.brain_extraction import extract_brain

    return {**rows, "images": extract_brain(rows["images"], rule.METHOD)}


def _scored(model, sources, left_out: dict) -> dict:
    """A row's figures with the extraction applied to what it scores: pooled threshold, A's and
    LGG's validation figures, the left-out site's."""
    from ...models.training import preprocessed

    extracted = preprocessed(sources, rule.METHOD)
    threshold, balanced = base.pooled_threshold(model, extracted)
    return {"threshold": threshold, "validation_balanced_accuracy": balanced,
            "validation": base.validation_figures(model, extracted, threshold),
            "held_out_figures": base.held_out_figures(model, _extracted(left_out), threshold)}


def train_row(spec: dict, a, lgg, schedule: str = "full") -> dict:
    """Train (or, for the single-source model, load) one row and return its figures."""
    from ...models import configs
    from ...models.networks import load_model
    from ...models.training import train

    variant, seed, site = spec["variant"], spec["seed"], spec["held_out_site"]
    left_out = site_study.held_out_rows(lgg, site)
    if variant == "single_source_extracted":
        model = load_model(configs.model_file("single-source"))
        return {**_scored(model, [a], left_out), "weights_sha256": base.weights_digest(model), "rows_trained": 0}
    sources = [a, site_study.without_site(lgg, site)]
    overrides = {"preprocessing": {"brain_extraction": rule.METHOD}} if variant == "extracted_training" else {}
    model, fit, rows = train(MODEL, schedule, overrides, sources=sources, seed=seed)
    row = {**_scored(model, sources, left_out), "trained_rows": rows, "best_epoch": fit.best_epoch,
           "epochs_run": fit.epochs_run, "train_seconds": fit.seconds, "rows_trained": sum(rows.values()) * fit.epochs_run}
    if variant == "inference_only":  # the same networks on the scans as given: the current default's figures
        threshold, _ = base.pooled_threshold(model, sources)
        row["held_out_figures_without_extraction"] = base.held_out_figures(model, left_out, threshold)
        row["validation_without_extraction"] = base.validation_figures(model, sources, threshold)
    return row


def apply_pick(outcome: str, root=None, registry=None) -> list[Path]:
    """Write the pick into the configuration it changes (`models.configs.write_setting`), as the
    rule says, and return the files written: nothing for the current default; for
    extracted_training, the new-scans folder's `brain_extraction`; for inference_only, that and
    `extract_training_rows = false`; for single_source_extracted, the same two in the
    single-source folder, which becomes the default (braintumor/configs/default_model.toml)."""
    from ...files import atomic_write
    from ...models import configs

    if outcome == rule.CURRENT:
        return []
    note = "picked by brain_extraction_default (model/brain_extraction_study.json)"
    name = "single-source" if outcome == "single_source_extracted" else MODEL
    written = [configs.write_setting(name, "preprocessing", "brain_extraction", rule.METHOD, note, root)]
    if outcome != "extracted_training":  # the network as trained; the extraction on the scans it scores
        written.append(configs.write_setting(name, "preprocessing", "extract_training_rows", False, note, root))
    if outcome == "single_source_extracted":
        path = Path(registry or configs.folder()) / "default_model.toml"
        text = path.read_text(encoding="utf-8")
        lines = [f'name = "{name}"' if line.startswith("name = ") else 'decided_by = "brain_extraction_default"'
                 if line.startswith("decided_by = ") else line for line in text.splitlines()]
        atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
        written.append(path)
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study extraction", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick"))
    parser.add_argument("--minutes", type=float, help="start no row that would end after this many minutes")
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: the check schedule on a sample of each source's train rows, to try the code path")
    parser.add_argument("--record", type=Path, default=RECORD)
    return parser


FIELDS = {"what": "the study that chooses the brain extraction predict's default ships with (decision "
                  "brain_extraction_default); braintumor/studies/extraction/",
          "rule": rule.RULE, "variants": list(rule.VARIANTS), "seeds": list(rule.SEEDS), "method": rule.METHOD,
          "held_out_sites": list(site_study.HELD_OUT_SITES)}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    record = base.read_record(args.record)
    if args.step == "pick":
        missing = [name for name, _ in rows_to_run() if name not in {row["name"] for row in record["rows"]}]
        if missing:  # the rule is applied once, to every row; a stopped run resumes with `train`
            raise SystemExit(f"{args.record}: cannot apply brain_extraction_default yet: {len(missing)} of "
                             f"{len(rows_to_run())} rows have not run ({', '.join(missing[:3])}...); "
                             f"run `python -m braintumor study extraction train` first")
        chosen = rule.extraction_pick(record["rows"])
        written = apply_pick(chosen["outcome"]) if args.record == RECORD else []  # a scratch record writes no configuration
        shown = [str(p.relative_to(config.REPO_ROOT) if p.is_relative_to(config.REPO_ROOT) else p) for p in dict.fromkeys(written)]
        base.write_record(args.record, record, pick={**chosen, "written": shown},
                          status="brain_extraction_default applied as written", **FIELDS)
        print(f"brain-extraction pick: {chosen['outcome']} ({chosen['reason']})"
              + "".join(f"\n  wrote {path}" for path in shown))
        return 0
    from ...data.sources import load_sources, scheduled_source

    a, lgg = (scheduled_source(source, args.schedule) for source in load_sources(site_study.TRAINING_SOURCES))
    record = base.run_rows(args.record, rows_to_run(), lambda spec: train_row(spec, a, lgg, args.schedule),
                           minutes=args.minutes, schedule=args.schedule, **FIELDS)
    done = {row["name"] for row in record["rows"]} & {name for name, _ in rows_to_run()}
    status = f"{len(done)} of {len(rows_to_run())} rows run (rule written and committed before any row); the pick waits for every row"
    base.write_record(args.record, record, status=status, **FIELDS)
    print(status, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
