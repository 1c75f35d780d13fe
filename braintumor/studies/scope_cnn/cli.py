"""The second scope study's command line (`python -m braintumor study scope-cnn`):

    train     each variant's leave-one-LGG-site-out row (CS, DU, FG held out in turn)
    pick      the cheap cues re-set per source; each qualifying variant trained on every train row,
              thresholded on the validation rows and read on B; the pick (or the fallback) written
              into predict's default's folder (scope.json, scope.onnx)
    confirm   once, after the pick: C and the test rows (a counted look)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from ... import config
from .. import base
from ..held_out import score_once
from ..scope.rule import b_figures
from ..scope.sets import CONFIRM_SETS, confirm_scores, cue_warned, default_probability
from ..site import HELD_OUT_SITES
from . import inputs as study_inputs
from .steps import (FIELDS, RECORD, VARIANTS, detector_of, fitted_variant, loso_row, loso_summary,
                    reset_cues, scope_cnn_pick, write_pick)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study scope-cnn", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick", "confirm"))
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: every 8th scan, to try the code path (use --record and --model-dir elsewhere)")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--model-dir", type=Path, default=None, help="where pick writes scope.json (default: the default's folder)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.step == "confirm":
        return _confirm(args)
    data = study_inputs.load(args.schedule)
    record = base.read_record(args.record)
    if args.step == "train":
        todo = [(f"{variant}__without_{site}", {"variant": variant, "site": site})
                for variant in VARIANTS for site in HELD_OUT_SITES]
        base.run_rows(args.record, todo, lambda spec: loso_row(data, spec["variant"], spec["site"]),
                      schedule=args.schedule, **FIELDS)
        record = base.read_record(args.record)
        base.write_record(args.record, record, status=f"{len(record['rows'])} leave-one-site-out rows run", **FIELDS)
        return 0
    try:
        summaries = {variant: loso_summary(record["rows"], variant) for variant in VARIANTS}
    except (KeyError, ValueError) as error:
        raise SystemExit(f"{args.record}: cannot apply scope_sequence_cnn yet ({error}); "
                         "run `python -m braintumor study scope-cnn train` first")
    cues = reset_cues(data)
    b, look = None, []
    if any(summary["qualifies"] for summary in summaries.values()):  # B is read only where a variant can still be picked
        from ...data.brain_extraction import extract_brain
        from ...data.sources import extra_source

        source = extra_source()
        b = {"images": source.images, "labels": source.labels, "extracted": extract_brain(source.images, "classical-v1"),
             "cue_warned": cue_warned(source.images, cues), "probability": default_probability(source.images)}
        look = [{"what": "set B, every scan, for the pick (scope_sequence_cnn)", "sets": ["extra_all"],
                 "when": date.today().isoformat()}]
    fitted = [fitted_variant(data, variant, summaries[variant], cues, b) if summaries[variant]["qualifies"]
              else ({"variant": variant, "loso": summaries[variant], "qualifies": False, "threshold": None}, None)
              for variant in VARIANTS]
    pick = scope_cnn_pick([entry for entry, _ in fitted])
    models = {entry["variant"]: model for entry, model in fitted}
    detector = detector_of(pick["outcome"], pick["threshold"]) if pick["outcome"] in models else None
    written = write_pick(detector, models.get(pick["outcome"]), cues, args.model_dir)
    base.write_record(args.record, record, fitted=[entry for entry, _ in fitted], pick=pick, input_check=cues,
                      b_cues_alone=None if b is None else b_figures(b["labels"], b["probability"], b["cue_warned"]),
                      detector_file=str(written.relative_to(config.REPO_ROOT) if written.is_relative_to(config.REPO_ROOT)
                                        else written),
                      status="scope_sequence_cnn applied as written", looks=[*record.get("looks", []), *look],
                      schedule=args.schedule, **FIELDS)
    print(f"scope-cnn pick: {pick['outcome']} ({pick['reason']})")
    return 0


def _confirm(args) -> int:
    """Once, after the pick: the outside scans C, A's and LGG's test rows and the T1 test rows,
    scored as `predict` scores them (the re-set cues, the ONNX detector, the default's ONNX)."""
    record = base.read_record(args.record)
    if "pick" not in record:
        raise SystemExit(f"{args.record}: no pick yet; run `python -m braintumor study scope-cnn pick` first")
    scored = score_once(args.record, lambda: confirm_scores(args.model_dir),
                        "the outside scans C and the test rows, once, after the scope-cnn pick", CONFIRM_SETS)
    for name, figures in scored["scores"].items():
        print(f"{name}: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
