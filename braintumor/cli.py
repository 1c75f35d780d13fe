"""Command line: `python -m braintumor prepare|predict ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import config
from .data.dataset import DataError
from .models.specs import DEFAULT_MODEL, SPECS
from .predict import DEFAULT_BATCH_SIZE, PredictError, finite_float, positive_int, resolve_model, run


def _prepare(args) -> int:
    from .data.prepare import format_summary, prepare

    from .data.sources import EXTRA_ENV_VAR, EXTRA_NPZ_PATH, EXTRA_SPLITS_PATH, find_extra_dir, format_extra_summary, prepare_extra

    extra_dir = find_extra_dir(args.extra_dir)  # checked before anything is written
    summary = prepare(data_dir=args.data_dir, out=Path(args.out), splits_out=Path(args.splits))
    print(format_summary(summary))
    print(f"wrote {args.out} and {args.splits}")
    if extra_dir is None:
        print(f"extra source: not used (${EXTRA_ENV_VAR} is not set)")
        return 0
    print(format_extra_summary(prepare_extra(extra_dir)))
    print(f"wrote {EXTRA_NPZ_PATH} and {EXTRA_SPLITS_PATH}")
    return 0


def _predict(args) -> int:
    gradcam_dir = Path(args.gradcam) if args.gradcam else None
    try:
        model_path, model_name = resolve_model(args.model)
        return run(args.paths, model_path, args.threshold, args.json, gradcam_dir, args.batch_size, model_name)
    except PredictError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output went into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braintumor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    prep = commands.add_parser("prepare", help="validate the raw Kaggle data (and the extra source, if given) and pack each into an npz")
    prep.add_argument("--data-dir", default=None, help=f"raw folder (default: ${config.DATA_ENV_VAR}, else data/raw/)")
    prep.add_argument("--extra-dir", default=None,
                      help="the second training source's folder (default: $BRAIN_TUMOR_EXTRA; unset: not used)")
    prep.add_argument("--out", default=str(config.NPZ_PATH), help="packed arrays (default: %(default)s)")
    prep.add_argument("--splits", default=str(config.SPLITS_PATH), help="split table (default: %(default)s)")
    prep.set_defaults(handler=_prepare)

    pred = commands.add_parser(
        "predict",
        help="tumour probability of scans (image files or folders of them)",
        description="Print, per image, the tumour probability and the label, and a warning when the "
        f"scan is unlike the training data (if {config.METRICS_PATH.name} beside the model holds an "
        "'input_check' rule). Folders are searched recursively; files that are not images are "
        "listed as skipped. Exit status 1 if any input could not be read (its line says why), 2 if "
        "the model cannot be loaded.",
    )
    pred.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="image file (JPEG, PNG, BMP, TIFF) or folder (searched recursively; names starting with '.' are ignored)",
    )
    pred.add_argument(
        "--model", metavar="NAME|FILE", default=None,
        help=f"a model name ({', '.join(f'{name}: {spec.file}' for name, spec in SPECS.items())}) or a .keras "
        f"file (default: {DEFAULT_MODEL}; the README says why)",
    )
    pred.add_argument(
        "--threshold", metavar="T", type=finite_float, default=None,
        help=f"label 1 (tumour) iff probability >= T (default: 'threshold' in {config.METRICS_PATH.name} "
        "beside the model, else 0.5)",
    )
    pred.add_argument(
        "--json", action="store_true",
        help="one JSON object per line: file, probability, label, model (the name of the model used; "
        "its file path when given a file) and warning when the input check fires; or file and error; "
        "or file and skipped",
    )
    pred.add_argument("--gradcam", metavar="DIR", help="write DIR/<name>_gradcam.png heat-map overlays")
    pred.add_argument(
        "--batch-size", metavar="N", type=positive_int, default=DEFAULT_BATCH_SIZE,
        help="images per batch (default: %(default)s)",
    )
    pred.set_defaults(handler=_predict)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
