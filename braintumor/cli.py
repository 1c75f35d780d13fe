"""Command line: `python -m braintumor prepare|predict ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .data import DataError


def _prepare(args) -> int:
    from .prepare import format_summary, prepare

    summary = prepare(data_dir=args.data_dir, out=Path(args.out), splits_out=Path(args.splits))
    print(format_summary(summary))
    print(f"wrote {args.out} and {args.splits}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braintumor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    prep = commands.add_parser("prepare", help="validate the raw Kaggle data and pack it into an npz")
    prep.add_argument("--data-dir", default=None, help=f"raw folder (default: ${config.DATA_ENV_VAR}, else data/raw/)")
    prep.add_argument("--out", default=str(config.NPZ_PATH), help="packed arrays (default: %(default)s)")
    prep.add_argument("--splits", default=str(config.SPLITS_PATH), help="split table (default: %(default)s)")
    prep.set_defaults(handler=_prepare)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
