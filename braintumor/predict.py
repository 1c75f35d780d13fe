"""`braintumor predict`: tumour probability for scans given as files or folders.

Inputs: pictures (JPEG, PNG, BMP, TIFF), DICOM files and series, NIfTI volumes. Pictures of
any size and common mode are turned into the model's input (240x240 grey, 0..255); 16-bit
grey images (and 32-bit integer ones, clipped) are divided by 257, so an absolute intensity
maps to the same 8-bit value whatever else is in the image. DICOM (`data.dicom`) and NIfTI
(`data.nifti`) give one scan per slice, by the rules stated there; each slice gets a line
(with its slice number k, 0 at the inferior end) and each series or volume a summary line.
Folders are searched recursively (a downloaded dataset comes as class folders); every file
met gets a line: a prediction, an error, or a note that it was skipped. Scans run through
the model in batches, and a bad file becomes an error line instead of stopping the run.
When metrics.json beside the model holds an `input_check` rule, a scan unlike the training
data gets a warning with its prediction.

Scoring uses the model's ONNX export beside it (`<stem>.onnx`) with ONNX Runtime by default:
no TensorFlow is imported, and a single scan takes a fraction of a second as a whole
process. Keras scores instead with `--runtime keras`, with `--gradcam` (gradients), or when
there is no usable export (a note says so).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from . import config
from .data.images import ImageReadError, read_scan
from .data.inputs import Entry, expand_paths, input_kind, walk_folder  # noqa: F401 (re-exported)

DEFAULT_THRESHOLD = 0.5
DEFAULT_BATCH_SIZE = 64
#: A progress bar is worth its noise only for runs that take a while.
PROGRESS_MIN_IMAGES = 100



class PredictError(Exception):
    """The run cannot start (model or output folder unusable); the message says why."""


@dataclass
class Result:
    """One scan (a picture, or slice `slice` of a volume or series): its tumour probability
    and label (and a warning when the scan is unlike the training data), or why it has none
    (an error, or why it was skipped)."""

    file: str
    probability: float | None = None
    label: int | None = None
    error: str | None = None
    skipped: str | None = None
    warning: str | None = None
    model: str | None = None  # the name of the model that scored it (`model_specs`), or its file
    slice: int | None = None  # its index in a volume or series (0: inferior), None for a picture
    runtime: str | None = None  # "onnx" or "keras": what scored it
    ends_entry: bool = False  # the last line of its `Entry` (for the progress bar)

    def as_json(self) -> str:
        if self.error is not None:
            return json.dumps({"file": self.file, "error": self.error})
        if self.skipped is not None:
            return json.dumps({"file": self.file, "skipped": self.skipped})
        record = {"file": self.file}
        if self.slice is not None:
            record["slice"] = self.slice
        record.update(probability=round(self.probability, 6), label=self.label)
        for key in ("model", "runtime", "warning"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        return json.dumps(record)

    def as_text(self) -> str:
        if self.error is not None:
            return f"{self.file}\terror: {self.error}"
        if self.skipped is not None:
            return f"{self.file}\tskipped: {self.skipped}"
        name = self.file if self.slice is None else f"{self.file} [slice {self.slice}]"
        line = f"{name}\t{self.probability:.3f}\t{config.CLASS_NAMES[self.label]}"
        return line if self.warning is None else f"{line}\twarning: {self.warning}"


@dataclass
class Summary:
    """The summary line of a volume or series, after its slice lines. It has no
    `probability` key, so a reader of the lines can tell it from a slice."""

    file: str
    probabilities: list[float]
    threshold: float
    series: str | None = None  # the SeriesInstanceUID of a DICOM series
    note: str | None = None
    ends_entry: bool = True
    error = skipped = probability = None  # read by `run` like a Result's

    def as_json(self) -> str:
        record = {"file": self.file}
        if self.series is not None:
            record["series"] = self.series
        best = int(np.argmax(self.probabilities))
        record.update(
            slices=len(self.probabilities), max_probability=round(float(self.probabilities[best]), 6), max_slice=best,
            slices_at_or_over_threshold=int(sum(p >= self.threshold for p in self.probabilities)),
        )
        if self.note is not None:
            record["note"] = self.note
        return json.dumps(record)

    def as_text(self) -> str:
        best = int(np.argmax(self.probabilities))
        over = sum(p >= self.threshold for p in self.probabilities)
        line = (f"{self.file}\t{len(self.probabilities)} slices: max {self.probabilities[best]:.3f} at slice {best}; "
                f"{over} at or over {self.threshold:.3f}")
        return line if self.note is None else f"{line}\tnote: {self.note}"


# --------------------------------------------------------------------------------------
# Model and threshold
# --------------------------------------------------------------------------------------


def _metrics_path(model_path: Path) -> Path:
    """metrics.json beside the model: where its threshold and input-check rule are kept."""
    return Path(model_path).parent / config.METRICS_PATH.name


def _model_settings(metrics: dict, model_path: Path) -> dict:
    """The part of metrics.json that belongs to this model file: its entry under
    "model_files" (keyed by file name) when there is one, else the top level (the
    single-source model's keys, and any metrics.json written before there were two models)."""
    per_model = metrics.get("model_files") if isinstance(metrics, dict) else None
    if isinstance(per_model, dict) and isinstance(per_model.get(Path(model_path).name), dict):
        return per_model[Path(model_path).name]
    return metrics


def resolve_model(choice: str | None) -> tuple[Path, str]:
    """(model file, name to report) for `--model`: a name from `model_specs.SPECS` (the
    default `model_specs.DEFAULT_MODEL` when None) or a path to a `.keras` file."""
    from .models.specs import DEFAULT_MODEL, SPECS

    name = choice or DEFAULT_MODEL
    if name in SPECS:
        return _shipped_file(SPECS[name].file), name
    path = Path(name)
    known = {spec.file.name: spec.name for spec in SPECS.values()}
    if path.suffix != ".keras" and not path.exists():
        raise PredictError(f"--model {name!r} is neither a model name ({', '.join(SPECS)}) nor a model file.")
    return path, known.get(path.name, str(path))


def _shipped_file(relative: Path) -> Path:
    """A shipped model's file: in the repository the package sits in (a clone, or an
    editable install), else under the current folder (a `pip install .` copies the package
    into site-packages without `model/`: run predict from the clone, or pass --model)."""
    in_repository = config.REPO_ROOT / relative
    if in_repository.exists() or in_repository.with_suffix(".onnx").exists() or not Path(relative).exists():
        return in_repository
    return Path(relative)


def default_threshold(model_path: Path) -> tuple[float, str | None]:
    """The decision threshold tuned for the model: its `threshold` in metrics.json beside it.

    Returns (threshold, note); the note says why 0.5 is used instead, when it is.
    """
    metrics_path = _metrics_path(model_path)
    try:
        threshold = _model_settings(json.loads(metrics_path.read_text(encoding="utf-8")), model_path)["threshold"]
    except FileNotFoundError:
        reason = "it does not exist"
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = f"no readable 'threshold' in it ({type(error).__name__}: {error})"
    else:
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0:
            return float(threshold), None
        reason = f"its 'threshold' {threshold!r} is not a number in 0..1"
    return DEFAULT_THRESHOLD, f"no threshold from '{metrics_path}' ({reason}); using {DEFAULT_THRESHOLD}"


def input_check_rule(model_path: Path) -> tuple[dict | None, str | None]:
    """The input-check rule kept with the model: `input_check` in metrics.json beside it.

    Returns (rule, note): (None, None) when there is no such key (or no file), so predict
    works without warnings; (None, note) when the file or the key is there but unusable.
    """
    metrics_path = _metrics_path(model_path)
    try:
        rule = _model_settings(json.loads(metrics_path.read_text(encoding="utf-8")), model_path).get("input_check")
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, AttributeError) as error:
        return None, f"cannot read '{metrics_path}' ({type(error).__name__}: {error}); no input warnings this run"
    if rule is None:
        return None, None
    from .data.input_check import check_rule

    try:
        return check_rule(rule), None
    except ValueError as error:
        return None, f"'input_check' in '{metrics_path}' is unusable ({error}); no input warnings this run"


#: Keras imports these when installed, only for features `predict` never uses (pandas
#: inputs, scikit-learn wrappers, image galleries); they add 1-2 s to every start.
_UNUSED_BY_KERAS_HERE = ("pandas", "sklearn", "matplotlib")


def _import_models_lean():
    """Import `.models` (and so Keras) with Keras's optional extras hidden, then unhide them."""
    hidden = [] if "keras" in sys.modules else [name for name in _UNUSED_BY_KERAS_HERE if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes `import name` fail, which Keras handles
    try:
        with _quiet_native_stderr():
            from .models import networks as models
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return models


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence file descriptor 2 while TensorFlow starts: its C++ start-up lines ("oneDNN custom
    operations are on", absl's notice) ignore TF_CPP_MIN_LOG_LEVEL and would bury the results.
    Python errors still surface as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: What to do when Keras is needed but missing (the light install has ONNX Runtime only).
_NO_KERAS = ("scoring with Keras needs TensorFlow and Keras, which are not installed here (`pip install .` "
             "installs the ONNX runtime only): install the research environment (`pip install -r requirements.txt`), "
             "or use the ONNX runtime with the model's export beside it (`python -m braintumor.models.export "
             "MODEL.keras`, run where Keras is installed)")
RUNTIMES = ("onnx", "keras")


def load_checked_model(model_path: Path):
    """Load the model in safe mode and check it follows the package's input/output contract."""
    try:
        load_model = _import_models_lean().load_model
    except ImportError as error:
        raise PredictError(f"{_NO_KERAS} ({type(error).__name__}: {error})") from None

    try:
        model = load_model(model_path)
    except FileNotFoundError as error:
        raise PredictError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a bad file
        raise PredictError(f"cannot load model '{model_path}' ({type(error).__name__}: {error})") from None
    expected_input = (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    if tuple(model.input_shape) != expected_input or tuple(model.output_shape) != (None, 2):
        raise PredictError(
            f"model '{model_path}' maps {model.input_shape} to {model.output_shape}; expected "
            f"{expected_input} grey scans to (None, 2) probabilities."
        )
    return model


def _usable_export(model_path: Path):
    """(the ONNX export beside `model_path` opened and checked, None) or (None, why not)."""
    from .models.onnx_runtime import OnnxModelError, file_sha256, load_onnx_model, onnx_path_for

    onnx_path = onnx_path_for(model_path)
    if not onnx_path.is_file():
        return None, f"no ONNX export '{onnx_path}' beside the model"
    try:
        model = load_onnx_model(onnx_path)
    except OnnxModelError as error:
        return None, str(error)
    recorded = model.source_sha256()
    if recorded is not None and Path(model_path).is_file() and recorded != file_sha256(model_path):
        return None, (f"the ONNX export '{onnx_path}' was made from another version of '{model_path}' "
                      "(its recorded sha256 differs)")
    return model, None


def load_runtime(model_path: Path, runtime: str | None = None, gradcam: bool = False):
    """The model to score with: (model, "onnx" or "keras", notes for stderr).

    ONNX Runtime with the export beside the `.keras` file (`<stem>.onnx`) unless `runtime`
    is "keras" or Grad-CAM is asked for (gradients need Keras; an explicit `--runtime onnx`
    with `--gradcam` gets a note: Keras then scores too, so the probabilities match the
    maps). Without a usable export (missing, unreadable, or made from another version of
    the `.keras` file): Keras with a note when the runtime was left to its default; a
    `PredictError` saying how to make one when `--runtime onnx` was asked for.
    """
    notes = []
    if gradcam and runtime == "onnx":
        notes.append("--gradcam needs gradients, which only Keras gives: scoring with keras this run")
    if runtime == "keras" or gradcam:
        return load_checked_model(model_path), "keras", notes
    model, problem = _usable_export(model_path)
    if model is not None:
        return model, "onnx", notes
    make_one = f"make it with `python -m braintumor.models.export {model_path}` (where Keras is installed)"
    if runtime == "onnx":
        raise PredictError(f"--runtime onnx: {problem}; {make_one}, or use --runtime keras")
    notes.append(f"{problem}: scoring with keras (slower start); {make_one}")
    return load_checked_model(model_path), "keras", notes


# --------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------


class _OverlayNames:
    """`<stem>_gradcam.png` in the folder (`<stem>_slice<k>_gradcam.png` for a slice of a
    volume or series), numbered when two inputs share a name."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.used: set[str] = set()

    def next_path(self, image_path: Path, slice_index: int | None = None) -> Path:
        stem = image_path.name[:-len(".gz")] if image_path.name.lower().endswith(".gz") else image_path.name
        stem = Path(stem).stem
        if slice_index is not None:
            stem = f"{stem}_slice{slice_index:03d}"
        name, number = f"{stem}_gradcam.png", 1
        while name in self.used:
            number += 1
            name = f"{stem}_{number}_gradcam.png"
        self.used.add(name)
        return self.folder / name


@dataclass
class _Unit:
    """The output lines of one entry, in order, and those of its lines still to be scored
    (`scored`, with their `scans`); a volume or series ends with its `Summary`."""

    lines: list
    scans: list[np.ndarray] = field(default_factory=list)
    scored: list[Result] = field(default_factory=list)
    summary: Summary | None = None

    def add_scan(self, result: Result, scan: np.ndarray) -> None:
        self.lines.append(result)
        self.scored.append(result)
        self.scans.append(scan)


def _read_entry(entry: Entry, threshold: float) -> _Unit:
    """Read one entry into its lines: a picture's one scan, a volume's or series' slices (and
    its files' error lines, then its summary), or the entry's error or skip line."""
    if entry.error is not None or entry.skipped is not None:
        return _Unit([Result(file=str(entry.path), error=entry.error, skipped=entry.skipped)])
    unit = _Unit([])
    try:
        if entry.kind == "nifti":
            from .data.nifti import read_nifti

            volume = read_nifti(entry.path)
            for index, scan in enumerate(volume.slices):
                unit.add_scan(Result(file=str(entry.path), slice=index), scan)
            unit.summary = Summary(str(entry.path), [], threshold, note=volume.note)
        elif entry.kind == "series":
            from .data.dicom import read_series

            series = read_series(entry.series)
            unit.lines.extend(Result(file=str(path), error=reason) for path, reason in series.errors)
            for index, (path, scan) in enumerate(series.slices):
                unit.add_scan(Result(file=str(path), slice=index), scan)
            if series.slices:
                unit.summary = Summary(str(entry.path), [], threshold, series=series.uid)
        else:
            unit.add_scan(Result(file=str(entry.path)), read_scan(entry.path))
    except ImageReadError as read_error:
        unit = _Unit([Result(file=str(entry.path), error=str(read_error))])
    if unit.summary is not None:
        unit.lines.append(unit.summary)
    if unit.lines:
        unit.lines[-1].ends_entry = True
    return unit


def predict_entries(
    model,
    entries: list[Entry],
    threshold: float = DEFAULT_THRESHOLD,
    batch_size: int = DEFAULT_BATCH_SIZE,
    gradcam_dir: Path | None = None,
    input_rule: dict | None = None,
) -> Iterator[Result | Summary]:
    """Yield the lines of the entries of `expand_paths`, in order: one `Result` per picture,
    slice, bad file or skipped file, and a `Summary` after each volume's or series' slices.

    Scans are scored `batch_size` at a time (entries are read until a batch is full, so a
    volume's slices and the pictures around it share batches). label is 1 (tumour) iff
    probability >= threshold. With `gradcam_dir`, a Grad-CAM overlay of the tumour class is
    written there for every scan that was predicted. With `input_rule` (see
    `braintumor.input_check`), a scan outside it gets a `warning`.
    """
    overlay_names = _OverlayNames(Path(gradcam_dir)) if gradcam_dir is not None else None
    pending, waiting = [], 0
    for entry in entries:
        unit = _read_entry(entry, threshold)
        pending.append(unit)
        waiting += len(unit.scans)
        if waiting >= batch_size:
            yield from _score(model, pending, threshold, batch_size, overlay_names, input_rule)
            pending, waiting = [], 0
    yield from _score(model, pending, threshold, batch_size, overlay_names, input_rule)


def _score(model, units: list[_Unit], threshold: float, batch_size: int, overlay_names, input_rule):
    """Score the units' scans in batches, fill in their results and summaries, yield their lines."""
    results = [result for unit in units for result in unit.scored]
    scans = [scan for unit in units for scan in unit.scans]
    for start in range(0, len(scans), batch_size):
        grey = np.stack(scans[start:start + batch_size])
        chunk = results[start:start + batch_size]
        batch = grey[..., np.newaxis].astype(np.float32)
        probabilities = np.asarray(model.predict_on_batch(batch))[:, 1]
        for result, probability in zip(chunk, probabilities):
            result.probability = float(probability)
            result.label = int(probability >= threshold)
        if input_rule is not None:
            from .data.input_check import input_warnings

            for result, warning in zip(chunk, input_warnings(grey, input_rule)):
                result.warning = warning
        if overlay_names is not None:
            _write_overlays(model, batch, chunk, overlay_names)
    for unit in units:
        if unit.summary is not None:
            unit.summary.probabilities = [result.probability for result in unit.scored]
        yield from unit.lines


def _write_overlays(model, batch: np.ndarray, results: list[Result], names: _OverlayNames) -> None:
    from .evaluation.gradcam import gradcam, save_overlay

    heatmaps = gradcam(model, batch, class_index=1)
    for scan, heatmap, result in zip(batch[..., 0].astype(np.uint8), heatmaps, results):
        target = names.next_path(Path(result.file), result.slice)
        try:
            save_overlay(target, scan, heatmap, title=f"P(tumour) = {result.probability:.3f}")
        except OSError as error:
            raise PredictError(f"cannot write Grad-CAM overlay '{target}' ({error})") from None


def run(
    paths,
    model_path: Path,
    threshold: float | None = None,
    as_json: bool = False,
    gradcam_dir: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    model_name: str | None = None,
    runtime: str | None = None,
) -> int:
    """The `predict` command: print one line per scan (and per volume or series, a summary);
    1 if any input failed, else 0.

    Results go to stdout; error and skip lines go to stdout as JSON with --json (one stream
    to parse), else to stderr. Skipped files (not images) leave the exit status alone.
    `runtime`: "onnx", "keras", or None for ONNX with a fallback to Keras (`load_runtime`).
    Raises `PredictError` when nothing can be predicted at all.
    """
    if gradcam_dir is not None:
        gradcam_dir = Path(gradcam_dir)
        try:
            gradcam_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise PredictError(f"cannot create the Grad-CAM folder '{gradcam_dir}' ({error})") from None
    if threshold is None:
        threshold, note = default_threshold(model_path)
        if note:
            print(f"note: {note}", file=sys.stderr)
    input_rule, note = input_check_rule(model_path)
    if note:
        print(f"note: {note}", file=sys.stderr)
    model, runtime, notes = load_runtime(model_path, runtime, gradcam_dir is not None)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    entries = expand_paths(paths)
    results = predict_entries(model, entries, threshold, batch_size, gradcam_dir, input_rule)
    progress = None
    if sys.stderr.isatty() and len(entries) > PROGRESS_MIN_IMAGES:
        from tqdm import tqdm

        progress = tqdm(total=len(entries), unit="image", file=sys.stderr)
    failed = 0
    try:
        for result in results:
            if isinstance(result, Result) and result.probability is not None:
                result.model, result.runtime = model_name, runtime
            failed += result.error is not None
            if as_json:
                print(result.as_json())
            elif result.error is None and result.skipped is None:
                print(result.as_text())
            elif progress is not None:
                progress.write(result.as_text(), file=sys.stderr)
            else:
                print(result.as_text(), file=sys.stderr)
            if progress is not None and result.ends_entry:
                progress.update()
    finally:
        if progress is not None:
            progress.close()
    return 1 if failed else 0


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
