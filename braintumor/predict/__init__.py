"""`braintumor predict`: tumour probability for scans given as files or folders.

Inputs: pictures, DICOM files and series, NIfTI volumes, and folders of them (searched
recursively); each file goes to the reader of its kind (`data.readers`), and how each kind
becomes the model's 240x240 grey picture is stated in docs/predict.md. Every file met gets a
line: a prediction, an error, or a note that it was skipped; a volume or series gets a line
per slice and a summary line. Scans run through the model in batches, and a bad file
becomes an error line instead of stopping the run.

The parts: `records` (the lines printed), `models` (`choose_model`: which model file, its
name, threshold, input-check rule and runtime, resolved once into a `ChosenModel` that is
passed down), `scoring` (ONNX Runtime or Keras, reading, batching, Grad-CAM). The command
line itself is `braintumor.cli`. This module holds `run`, the command's one entry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..data.inputs import Entry, expand_paths, walk_folder  # noqa: F401 (re-exported)
from .models import (DEFAULT_THRESHOLD, NOT_FOUND, ChosenModel, choose_model, default_threshold,  # noqa: F401
                     input_check_rule, resolve_model)
from .records import PredictError, Progress, Result, Summary
from .scoring import (DEFAULT_BATCH_SIZE, RUNTIMES, load_checked_model, load_runtime,  # noqa: F401
                      predict_entries)

#: A progress line is worth its noise only for runs that take a while.
PROGRESS_MIN_IMAGES = 100


def run(
    paths,
    model: ChosenModel,
    as_json: bool = False,
    gradcam_dir: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """The `predict` command: print one line per scan (and per volume or series, a summary);
    1 if any input failed, else 0.

    `model` is what `choose_model` resolved from `--model`, `--threshold` and `--runtime`: its
    file, name, threshold, input-check rule and loaded runtime, read once (with `--gradcam`,
    resolved with `gradcam=True`, so that Keras scores). Results go to stdout; error and skip
    lines go to stdout as JSON with --json (one stream to parse), else to stderr. Skipped files leave the
    exit status alone. Every line names the model and the runtime. Raises `PredictError`
    when nothing can be predicted at all.
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

    entries = expand_paths(paths)
    progress = Progress(len(entries)) if sys.stderr.isatty() and len(entries) > PROGRESS_MIN_IMAGES else None
    failed = 0
    try:
        for line in predict_entries(model, entries, batch_size, gradcam_dir):
            line.model, line.runtime = model.name, model.runtime
            failed += line.error is not None
            if as_json:
                print(line.as_json())
            elif line.error is None and line.skipped is None:
                print(line.as_text())
            elif progress is not None:
                progress.write(line.as_text())
            else:
                print(line.as_text(), file=sys.stderr)
            if progress is not None and line.ends_entry:
                progress.update()
    finally:
        if progress is not None:
            progress.close()
    return 1 if failed else 0
