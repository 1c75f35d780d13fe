"""`braintumor predict`: tumour probability for scans given as files or folders.

Inputs: pictures, DICOM files and series, NIfTI volumes, and folders of them (searched
recursively); each file goes to the reader of its kind (`data.readers`), and how each kind
becomes the model's 240x240 grey picture is stated in docs/predict.md. Every file met gets a
line: a prediction, an error, or a note that it was skipped; a volume or series gets a line
per slice and a summary line. Scans run through the model in batches, and a bad file
becomes an error line instead of stopping the run.

The parts: `records` (the lines printed), `models` (`choose_model`: which model file, its
name, threshold, input-check rule, brain extraction and runtime, resolved once into a
`ChosenModel` that is passed down), `scoring` (ONNX Runtime or Keras, reading, batching, the
brain extraction before the network, Grad-CAM). The command
line itself is `braintumor.cli`; `options` holds what its help shows. This module holds `run`,
the command's one entry; it imports Pillow (through the readers) only when called.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path

from .models import (DEFAULT_THRESHOLD, NO_EXTRACTION, NOT_FOUND, ChosenModel, brain_extraction,  # noqa: F401
                     choose_model, default_threshold, input_check_rule, resolve_model)
from .options import DEFAULT_BATCH_SIZE, EXIT_OK, EXIT_UNREADABLE, JSON_SCHEMA, RUNTIMES  # noqa: F401
from .records import PredictError, Result, Summary, print_line, progress_bar  # noqa: F401

#: Names re-exported from the modules that import Pillow (and, when they read, pydicom and
#: nibabel): imported on first use, so that the command line's help imports none of them.
_LAZY = {"Entry": "..data.inputs", "expand_paths": "..data.inputs", "walk_folder": "..data.inputs",
         "load_checked_model": ".scoring", "load_runtime": ".scoring", "predict_entries": ".scoring"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


def run(
    paths,
    model: ChosenModel,
    as_json: bool = False,
    gradcam_dir: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """The `predict` command: print one line per scan (and per volume or series, a summary);
    `EXIT_UNREADABLE` (1) if any input failed, else `EXIT_OK` (0).

    `model` is what `choose_model` resolved from `--model`, `--threshold` and `--runtime`: its
    file, name, threshold, input-check rule and loaded runtime, read once (with `--gradcam`,
    resolved with `gradcam=True`, so that Keras scores). Results go to stdout; error and skip
    lines go to stdout as JSON with --json (one stream to parse), else to stderr. Skipped files leave the
    exit status alone. Every line names the model and the runtime (and, with --json, carries
    `schema`: `JSON_SCHEMA`). On a terminal, a progress bar counts the scans on stderr
    (`records.progress_bar`). Raises `PredictError` when nothing can be predicted at all.
    """
    if gradcam_dir is not None:
        gradcam_dir = Path(gradcam_dir)
        try:
            gradcam_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise PredictError(f"cannot create the Grad-CAM folder '{gradcam_dir}' ({error})") from None
    if gradcam_dir is not None and model.runtime != "keras":
        raise PredictError("Grad-CAM needs the Keras runtime: resolve the model with choose_model(..., gradcam=True)")
    for note in model.notes:
        print(f"note: {note}", file=sys.stderr)

    from ..data.inputs import expand_paths
    from .scoring import predict_entries

    entries = expand_paths(paths)
    failed = 0
    with progress_bar(len(entries)) as bar:
        for line in predict_entries(model, entries, batch_size, gradcam_dir, progress=bar):
            line.model, line.runtime = model.name, model.runtime
            if model.preprocessing != NO_EXTRACTION:  # "none" adds no key: the lines read as they always did
                line.preprocessing = model.preprocessing
            failed += line.error is not None
            if as_json:
                print_line(line.as_json(), sys.stdout, bar)
            elif line.error is None and line.skipped is None:
                print_line(line.as_text(), sys.stdout, bar)
            else:
                print_line(line.as_text(), sys.stderr, bar)
    return EXIT_UNREADABLE if failed else EXIT_OK
