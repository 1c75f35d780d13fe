"""The scope study's steps and command line (`python -m braintumor study scope`).

    python -m braintumor study scope train     # leave-one-site-out rows: every variant, C and site (minutes)
    python -m braintumor study scope pick      # fit, threshold on validation rows, read B, pick, write scope.json
    python -m braintumor study scope confirm   # once, after the pick: C and the test rows (a counted look)

What each step reads is in `sets`, the fitting in `fitting`, the rule in `rule`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ... import config
from .. import base
from ..held_out import score_once
from ..site import HELD_OUT_SITES
from . import rule
from .fitting import detector_of, fit, fitted_variant, loso_row, write_detector  # noqa: F401
from .sets import ALL, CONFIRM_SETS, DETECTOR_FILE, RECORD, confirm_scores, cue_rule, cue_warned, default_probability, load_data, model_folder  # noqa: F401


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study scope", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick", "confirm"))
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: every 8th scan, into a scratch record, to try the code path")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--model-dir", type=Path, default=None, help="where pick writes scope.json (default: the default's folder)")
    return parser


FIELDS = {"what": "the study that chooses the check of scans outside the models' scope (decision scope_check); "
                  "braintumor/studies/scope/",
          "rule": rule.RULE, "variants": list(rule.VARIANTS), "c_grid": list(rule.C_GRID),
          "held_out_sites": list(HELD_OUT_SITES)}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    record = base.read_record(args.record)
    if args.step == "confirm":
        return _confirm(args)
    data = load_data(args.schedule)
    if args.step == "train":
        todo = [(f"{variant}__C{c}__without_{site}", {"variant": variant, "c": c, "site": site})
                for variant in rule.VARIANTS for c in rule.C_GRID for site in HELD_OUT_SITES]
        record = base.run_rows(args.record, todo, lambda spec: {**loso_row(data, spec["variant"], spec["c"], spec["site"]),
                                                               "rows_trained": 0},
                               schedule=args.schedule, **FIELDS)
        base.write_record(args.record, record, status=f"{len(record['rows'])} leave-one-site-out rows run", **FIELDS)
        return 0
    try:
        chosen = {variant: rule.chosen_c(record["rows"], variant) for variant in rule.VARIANTS}
    except ValueError as error:
        raise SystemExit(f"{args.record}: cannot apply scope_check yet ({error}); run `python -m braintumor study scope train` first")
    from ...data.scope import scope_features
    from ...data.sources import extra_source

    cues = cue_rule()
    b, look = None, []
    if any(entry["qualifies"] for entry in chosen.values()):  # B is read only where a variant can still be picked
        from datetime import date

        b_source = extra_source()
        b = {"labels": b_source.labels, "features": scope_features(b_source.images, ALL),
             "cue_warned": cue_warned(b_source.images, cues), "probability": default_probability(b_source.images)}
        look = [{"what": "set B, every scan, for the pick (scope_check)", "sets": ["extra_all"], "when": date.today().isoformat()}]
    fitted = [fitted_variant(data, variant, chosen[variant], cues, b) for variant in rule.VARIANTS]
    pick = rule.scope_pick([entry for entry, _ in fitted])
    detectors = {entry["variant"]: detector for entry, detector in fitted}
    written = write_detector(detectors.get(pick["outcome"]), args.model_dir)
    shown = written.relative_to(config.REPO_ROOT) if written.is_relative_to(config.REPO_ROOT) else written
    base.write_record(args.record, record, fitted=[entry for entry, _ in fitted], pick=pick,
                      b_cues_alone=None if b is None else rule.b_figures(b["labels"], b["probability"], b["cue_warned"]),
                      detector_file=str(shown) if detectors.get(pick["outcome"]) else None,
                      status="scope_check applied as written", looks=[*record.get("looks", []), *look],
                      schedule=args.schedule, **FIELDS)
    print(f"scope pick: {pick['outcome']} ({pick['reason']})")
    return 0


def _confirm(args) -> int:
    """Once, after the pick: the outside scans C, A's and LGG's test rows and the T1 test rows."""
    record = base.read_record(args.record)
    if "pick" not in record:
        raise SystemExit(f"{args.record}: no pick yet; run `python -m braintumor study scope pick` first")
    scored = score_once(args.record, lambda: confirm_scores(args.model_dir),
                        "the outside scans C and the test rows, once, after the scope pick", CONFIRM_SETS)
    for name, figures in scored["scores"].items():
        print(f"{name}: {figures['warned_share']:.1%} warned; unwarned ROC AUC {figures['unwarned_roc_auc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
