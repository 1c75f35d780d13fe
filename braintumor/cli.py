"""Command line: `python -m braintumor prepare|predict|study ...`.

Exit status, every subcommand: 0 done (every input scored); 1 some input could not be read
(each has its own line); 2 a usage error, or the model or data cannot be used; 3 an
unexpected internal error (one line on stderr; the traceback with --debug).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from . import __version__, config
from .predict.options import (DEFAULT_BATCH_SIZE, EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_OK, EXIT_UNREADABLE,
                              EXIT_USAGE, JSON_SCHEMA, RUNTIMES)

# Only what the help shows is imported here: the subcommands import what they run, so that
# `--help` imports no Pillow, ONNX Runtime, pydicom, nibabel or TensorFlow (tests/test_cli.py).
# The models `--model` offers are read from their configurations only when the help is shown
# (`_ModelOption`), so that a `predict` run reads the configuration of the one model it runs.

EXIT_STATUSES = (f"Exit status: {EXIT_OK} when every input was scored (skipped files included); {EXIT_UNREADABLE} when "
                 f"some input could not be read (each has its own error line; the rest are scored); {EXIT_USAGE} for a "
                 f"usage error or a model or data that cannot be used (nothing is scored); {EXIT_INTERNAL} for an "
                 f"unexpected internal error (one line on stderr; --debug prints the traceback); {EXIT_BROKEN_PIPE} "
                 "when the output was closed early (e.g. `| head`).")
DEBUG_HELP = f"on an unexpected internal error (exit status {EXIT_INTERNAL}), print its traceback too"


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def finite_float(text: str) -> float:
    """argparse type: a real number (no nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _prepare(args) -> int:
    from .data.prepare import format_summary, prepare

    from .data.sources import EXTRA_ENV_VAR, EXTRA_NPZ_PATH, EXTRA_SPLITS_PATH, find_extra_dir, format_extra_summary, prepare_extra

    from .data.lgg import LGG_ENV_VAR, LGG_NPZ_PATH, LGG_SPLITS_PATH, find_lgg_dir, format_lgg_summary, prepare_lgg

    extra_dir = find_extra_dir(args.extra_dir)  # checked before anything is written
    lgg_dir = find_lgg_dir(args.lgg_dir)
    summary = prepare(data_dir=args.data_dir, out=Path(args.out), splits_out=Path(args.splits))
    print(format_summary(summary))
    print(f"wrote {args.out} and {args.splits}")
    if extra_dir is None:
        print(f"extra source: not used (${EXTRA_ENV_VAR} is not set)")
    else:
        print(format_extra_summary(prepare_extra(extra_dir)))
        print(f"wrote {EXTRA_NPZ_PATH} and {EXTRA_SPLITS_PATH}")
    if lgg_dir is None:
        print(f"LGG source: not used (${LGG_ENV_VAR} is not set)")
    else:
        sites = args.lgg_sites.split(",") if args.lgg_sites else None
        print(format_lgg_summary(prepare_lgg(lgg_dir, sites=sites) if sites else prepare_lgg(lgg_dir)))
        print(f"wrote {LGG_NPZ_PATH} and {LGG_SPLITS_PATH}")
    return 0


def _predict(args) -> int:
    from .predict import run
    from .predict.models import choose_model

    global _SKIP_TEARDOWN
    _SKIP_TEARDOWN = True  # its outputs are written, flushed and closed when it returns: `exit_process`
    gradcam_dir = Path(args.gradcam) if args.gradcam else None
    model = choose_model(args.model, args.threshold, args.runtime, gradcam=gradcam_dir is not None)
    return run(args.paths, model, args.json, gradcam_dir, args.batch_size)


#: Set by the subcommands after which `exit_process` may skip the interpreter's teardown.
_SKIP_TEARDOWN = False


def exit_process(status: int):
    """End `python -m braintumor` with `status`. After `predict` without TensorFlow (the ONNX
    runtime: every line printed, no file left open, no thread or atexit hook of its own), the
    interpreter's teardown is skipped (`os._exit`): unloading ONNX Runtime and freeing every module
    adds 20-40 ms to a one-scan run, a tenth of it or more (`make bench`, issues 40 and 41). stdout
    and stderr are flushed first; a reader gone by then gives `EXIT_BROKEN_PIPE`, as during the run
    (where the usual exit printed "Exception ignored ... BrokenPipeError" and gave 120), and any
    other failure to flush is left to the usual exit to report. Every other run (`prepare`,
    `study`, `predict` with Keras) exits the usual way, its threads joined and its libraries'
    atexit hooks run."""
    if not _SKIP_TEARDOWN or "tensorflow" in sys.modules:
        raise SystemExit(status)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        status = EXIT_BROKEN_PIPE
    except OSError:
        raise SystemExit(status) from None
    try:
        sys.stderr.flush()
    except OSError:
        raise SystemExit(status) from None
    os._exit(status)


def _study(args) -> int:
    from .studies import run as run_study

    return run_study(args.name, args.arguments)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braintumor", description=__doc__.split("\n\n")[0], epilog=EXIT_STATUSES)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    prep = commands.add_parser("prepare", help="validate the raw Kaggle data (and the extra source, if given) and pack each into an npz")
    prep.add_argument("--data-dir", default=None, help=f"raw folder (default: ${config.DATA_ENV_VAR}, else data/raw/)")
    prep.add_argument("--extra-dir", default=None,
                      help="the second training source's folder (default: $BRAIN_TUMOR_EXTRA; unset: not used)")
    prep.add_argument("--lgg-dir", default=None,
                      help="the LGG FLAIR source's kaggle_3m/ folder (default: $BRAIN_TUMOR_LGG; unset: not used)")
    prep.add_argument("--lgg-sites", default=None, metavar="CS,DU,...",
                      help="LGG sites to use, comma-separated (default: CS,DU,EZ,FG, the committed figures' sites)")
    prep.add_argument("--out", default=str(config.NPZ_PATH), help="packed arrays (default: %(default)s)")
    prep.add_argument("--splits", default=str(config.SPLITS_PATH), help="split table (default: %(default)s)")
    prep.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    prep.set_defaults(handler=_prepare)

    pred = commands.add_parser(
        "predict",
        help="tumour probability of scans (pictures, DICOM files and series, NIfTI volumes, or folders of them)",
        description="Print, per scan, the tumour probability and the label, and a warning when the "
        "scan is unlike the training data (if the model's input-check rule says so). A DICOM series or "
        "NIfTI volume gets one line per slice (k = 0 at the inferior end) and then a summary line "
        "(slices, max_probability, max_slice, slices_at_or_over_threshold; no 'probability' key). "
        "Which files are read, and how a picture, a DICOM series and a NIfTI volume become the model's "
        "240x240 grey picture: docs/predict.md. On a terminal, a progress bar on stderr counts the scans.",
        epilog=EXIT_STATUSES,
    )
    pred.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="picture (JPEG, PNG, BMP, TIFF), DICOM or NIfTI (.nii, .nii.gz) file, or folder "
        "(searched recursively; names starting with '.' are ignored); docs/predict.md says which files are read",
    )
    pred.add_argument("--model", metavar="NAME|FILE", default=None, action=_ModelOption)
    pred.add_argument(
        "--runtime", choices=RUNTIMES, default=None,
        help="what scores: onnx (the default: ONNX Runtime with the .onnx export beside the model, no "
        "TensorFlow; without a usable export, keras with a note; asked for explicitly, a missing export is "
        "an error) or keras (TensorFlow; needs the research environment). --gradcam always uses keras "
        "(it needs gradients); with --runtime onnx too, a note says so",
    )
    pred.add_argument(
        "--threshold", metavar="T", type=finite_float, default=None,
        help=f"label 1 (tumour) iff probability >= T (default: 'threshold' in {config.METRICS_PATH.name} "
        "beside the model, else 0.5)",
    )
    pred.add_argument(
        "--json", action="store_true",
        help=f"one JSON object per line, each with schema ({JSON_SCHEMA}: the version of these keys, docs/predict.md) "
        "and: file, slice (for a slice of a volume or series), probability, label, "
        "model (the name of the model used; its file path when given a file), runtime (onnx or keras) and "
        "warning when the input check fires; a volume's or series' summary: file, series (DICOM), slices, "
        "max_probability, max_slice, slices_at_or_over_threshold, note, model, runtime; or file, error, model and "
        "runtime; or file, skipped, model and runtime",
    )
    pred.add_argument("--gradcam", metavar="DIR",
                      help="write DIR/<name>_gradcam.png heat-map overlays (<name>_slice<k>_gradcam.png for slices); "
                      "uses the keras runtime")
    pred.add_argument(
        "--batch-size", metavar="N", type=positive_int, default=DEFAULT_BATCH_SIZE,
        help="scans per batch (default: %(default)s)",
    )
    pred.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    pred.set_defaults(handler=_predict)

    from .studies import STUDIES

    study = commands.add_parser(
        "study", help="one step of a study: python -m braintumor study NAME STEP [options] (braintumor/studies/)",
        description="Run one step of a study; `python -m braintumor study NAME -h` lists its steps and options.")
    study.add_argument("name", choices=sorted(STUDIES), help="the study")
    study.add_argument("arguments", nargs=argparse.REMAINDER, help="its step and options, e.g. train --minutes 60")
    study.set_defaults(handler=_study)
    return parser


def _offered_models() -> str:
    """The names `--model` takes, each with its file, and the default, for the help; where no model
    folder is found (neither a clone nor the installed package's copies), says so instead."""
    from .models import configs, roles

    try:
        offered, default = roles.offered(), roles.default_model()
        files = {name: configs.model_file(name) for name in offered}
    except KeyError:
        return "none found: run from the clone or pass a file"
    return f"{', '.join(f'{name}: {files[name]}' for name in offered)}; default: {default}"


class _ModelOption(argparse.Action):
    """`predict --model`, stored as given; its help names the offered models, read from their
    configurations when the help is formatted, not each time the parser is built."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)

    @property
    def help(self) -> str:
        return (f"a model name ({_offered_models()}), its folder model/NAME/, or a .keras or .onnx file "
                "(the README's 'which model for which scans' says what each is for; a study record runs only by "
                "its path); a .keras file's ONNX export <stem>.onnx beside it is used when present, and the "
                "card.json beside it gives the threshold, the input check and the preprocessing (brain "
                "extraction) run before the network; a named model is looked for in the clone, then in the "
                "installed package")

    @help.setter
    def help(self, value) -> None:  # argparse.Action.__init__ sets it; the property above answers
        pass


def _is_expected(error: Exception) -> bool:
    """True for the errors that say what to fix (exit status 2): `PredictError` (the model or
    an output folder) and `DataError` (the training data). Their modules are looked up only
    when loaded: an error of either was raised from it, so none is imported for this."""
    expected = [getattr(sys.modules.get(f"{__package__}.{module}"), name, None)
                for module, name in (("predict.records", "PredictError"), ("data.dataset", "DataError"))]
    return isinstance(error, tuple(kind for kind in expected if kind is not None))


def main(argv=None) -> int:
    """Run the command line; returns its exit status (see `EXIT_STATUSES`). argparse exits
    with 2 itself on a usage error, and with 0 after --help and --version."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:  # the output went into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    except Exception as error:  # noqa: BLE001 - the one place an unforeseen error becomes a status
        if _is_expected(error):
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        if args.debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        message = " ".join(str(error).split())  # one line, whatever the message holds
        what = f"{type(error).__name__}: {message}" if message else type(error).__name__
        print(f"braintumor: internal error: {what} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
