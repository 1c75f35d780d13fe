"""What scores a `predict` run and how: the runtime (ONNX Runtime with the export beside the
model, or Keras), reading each entry through its reader, batching the scans, and the
Grad-CAM overlays.

ONNX Runtime is the default: no TensorFlow is imported. Keras scores with `--runtime keras`,
with `--gradcam` (gradients), or when there is no usable export (a note says so).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import config
from ..data.images import ImageReadError
from ..data.sequence import sequence_warning
from ..data.inputs import Entry
from .options import DEFAULT_BATCH_SIZE, RUNTIMES  # noqa: F401 (RUNTIMES: re-exported)
from .records import PredictError, Result, Summary

#: Keras imports these when installed, only for features `predict` never uses (pandas
#: inputs, scikit-learn wrappers, image galleries); they add 1-2 s to every start.
_UNUSED_BY_KERAS_HERE = ("pandas", "sklearn", "matplotlib")

#: What to do when Keras is needed but missing (the light install has ONNX Runtime only).
_NO_KERAS = ("scoring with Keras needs TensorFlow and Keras, which are not installed here (`pip install .` "
             "installs the ONNX runtime only): install the research environment (`pip install -r requirements.txt`), "
             "or use the ONNX runtime with the model's export beside it (`python -m braintumor.models.export "
             "MODEL.keras`, run where Keras is installed)")


def _import_models_lean():
    """Import `.models.networks` (and so Keras) with Keras's optional extras hidden, then unhide them."""
    hidden = [] if "keras" in sys.modules else [name for name in _UNUSED_BY_KERAS_HERE if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes `import name` fail, which Keras handles
    try:
        with _quiet_native_stderr():
            from ..models import networks
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return networks


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


def keras_file(model_path: Path) -> Path:
    """The `.keras` file of a model given by either of its files (a `.onnx` path: its namesake)."""
    model_path = Path(model_path)
    return model_path.with_suffix(".keras") if model_path.suffix == ".onnx" else model_path


def load_checked_model(model_path: Path):
    """Load the `.keras` model in safe mode and check it follows the package's input/output contract."""
    model_path = keras_file(model_path)
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
    """(the ONNX export of the model opened and checked, None) or (None, why not). The export
    is `model_path` itself when it is a `.onnx` file, else `<stem>.onnx` beside it; it is
    stale when it records the sha256 of a `.keras` file that exists beside it and differs."""
    from ..models.onnx_runtime import OnnxModelError, file_sha256, load_onnx_model, onnx_path_for

    onnx_path, source = onnx_path_for(model_path), keras_file(model_path)
    if not onnx_path.is_file():
        return None, f"no ONNX export '{onnx_path}' beside the model"
    try:
        model = load_onnx_model(onnx_path)
    except OnnxModelError as error:
        return None, str(error)
    recorded = model.source_sha256()
    if recorded is not None and source.is_file() and recorded != file_sha256(source):
        return None, (f"the ONNX export '{onnx_path}' was made from another version of '{source}' "
                      "(its recorded sha256 differs)")
    return model, None


def load_runtime(model_path: Path, runtime: str | None = None, gradcam: bool = False):
    """The model to score with: (model, "onnx" or "keras", notes for stderr).

    ONNX Runtime with the model's export unless `runtime` is "keras" or Grad-CAM is asked
    for (gradients need Keras; an explicit `--runtime onnx` with `--gradcam` gets a note:
    Keras then scores too, so the probabilities match the maps). Without a usable export
    (missing, unreadable, or made from another version of the `.keras` file): Keras with a
    note when the runtime was left to its default and the `.keras` file is there; a
    `PredictError` saying how to make one otherwise.
    """
    notes = []
    if gradcam and runtime == "onnx":
        notes.append("--gradcam needs gradients, which only Keras gives: scoring with keras this run")
    if runtime == "keras" or gradcam:
        return load_checked_model(model_path), "keras", notes
    model, problem = _usable_export(model_path)
    if model is not None:
        return model, "onnx", notes
    source = keras_file(model_path)
    make_one = f"make it with `python -m braintumor.models.export {source}` (where Keras is installed)"
    if runtime == "onnx" or (Path(model_path).suffix == ".onnx" and not source.is_file()):
        raise PredictError(f"{'--runtime onnx: ' if runtime else ''}{problem}; {make_one}, or use --runtime keras")
    notes.append(f"{problem}: scoring with keras (slower start); {make_one}")
    return load_checked_model(model_path), "keras", notes


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
    """Read one entry with its reader into its lines: a picture's one scan, a volume's or
    series' slices (after its files' error and skip lines) and its summary, or the entry's
    error or skip line. A reader's unforeseen failure is that entry's error line: one file
    never stops the run."""
    if not entry.usable:
        return _Unit([Result(file=str(entry.path), error=entry.error, skipped=entry.skipped)])
    try:
        scans = entry.reader.read(entry)
    except ImageReadError as read_error:
        return _Unit([Result(file=str(entry.path), error=str(read_error))])
    except Exception as error:  # noqa: BLE001 - a library's bug on one odd file
        return _Unit([Result(file=str(entry.path), error=(
            f"cannot be read ({type(error).__name__}: {error}); convert it to PNG or NIfTI, and please report it"))])
    unit = _Unit([Result(file=str(path), error=reason) for path, reason in scans.errors]
                 + [Result(file=str(path), skipped=reason) for path, reason in scans.skipped])
    for index, (path, scan) in enumerate(zip(scans.files, scans.scans)):
        unit.add_scan(Result(file=str(path), slice=index if scans.volume else None), scan)
    if scans.volume and scans.scans:
        unit.summary = Summary(str(entry.path), [], threshold, series=scans.series, note=scans.note,
                               sequence=scans.sequence, warning=sequence_warning(scans.sequence))
        unit.lines.append(unit.summary)
    return unit


def predict_entries(model, entries: list[Entry], batch_size: int = DEFAULT_BATCH_SIZE,
                    gradcam_dir: Path | None = None, progress=None) -> Iterator[Result | Summary]:
    """Yield the lines of the entries of `expand_paths`, in order: one `Result` per picture,
    slice, bad file or skipped file, and a `Summary` after each volume's or series' slices.

    `model` is the run's `models.ChosenModel`: its `scorer` scores, its `threshold` labels, its
    `input_rule` (see `data.input_check`, None for none) warns on the scans as read, and its
    `preprocessing` (a brain extraction, "none" for none) runs on them before the network (the
    Grad-CAM overlays show the scans the network saw). Scans are scored
    `batch_size` at a time (entries are read until a batch is full, so a volume's slices and the
    pictures around it share batches). label is 1 (tumour) iff probability >= threshold. With
    `gradcam_dir`, a Grad-CAM overlay of the tumour class is written there for every scan that
    was predicted.

    `progress` (`records.progress_bar`, its total the number of entries, or None) moves on by
    one per scan scored, batch by batch, so that a long volume or series shows its slices
    going; an entry counts as its number of scans once read (one when it gives none).
    """
    overlay_names = _OverlayNames(Path(gradcam_dir)) if gradcam_dir is not None else None
    pending, waiting = [], 0
    for entry in entries:
        unit = _read_entry(entry, model.threshold)
        if progress is not None:
            _count_entry(progress, len(unit.scans))
        pending.append(unit)
        waiting += len(unit.scans)
        if waiting >= batch_size:
            yield from _score(model, pending, batch_size, overlay_names, progress)
            pending, waiting = [], 0
    yield from _score(model, pending, batch_size, overlay_names, progress)


def _count_entry(progress, scans: int) -> None:
    """An entry just read, counted as one in the bar's total: done when it gave no scan, else
    its scans replace that one (a volume's slices) and are counted when scored."""
    if scans == 0:
        progress.update(1)
    elif scans > 1:
        progress.total += scans - 1
        progress.refresh()


def _score(model, units: list[_Unit], batch_size: int, overlay_names, progress=None):
    """Score the units' scans in batches, fill in their results and summaries, yield their lines."""
    results = [result for unit in units for result in unit.scored]
    scans = [scan for unit in units for scan in unit.scans]
    method = getattr(model, "preprocessing", "none")
    for start in range(0, len(scans), batch_size):
        grey = np.stack(scans[start:start + batch_size])
        chunk = results[start:start + batch_size]
        batch = _preprocessed(grey, method)[..., np.newaxis].astype(np.float32)
        probabilities = np.asarray(model.scorer.predict_on_batch(batch))[:, 1]
        for result, probability in zip(chunk, probabilities):
            result.probability = float(probability)
            result.label = int(probability >= model.threshold)
        if model.input_rule is not None:
            from ..data.input_check import input_warnings

            for result, warning in zip(chunk, input_warnings(grey, model.input_rule)):
                result.warning = warning
        if getattr(model, "scope", None) is not None:
            extracted = batch[..., 0].astype(np.uint8) if model.scope.get("extraction") == method != "none" else None
            _add_scope(chunk, grey, model.scope, getattr(model, "scope_network", None), extracted)
        if overlay_names is not None:
            _write_overlays(model.scorer, batch, chunk, overlay_names)
        if progress is not None:
            progress.update(len(chunk))
    for unit in units:
        if unit.summary is not None:
            unit.summary.probabilities = [result.probability for result in unit.scored]
        yield from unit.lines


def _add_scope(results: list[Result], grey: np.ndarray, detector: dict, network=None, extracted=None) -> None:
    """Each result's out-of-scope score (`data.scope`, on the scans as read; `network`: a "cnn"
    detector's ONNX network; `extracted`: the scans after its extraction, when the model's own),
    and the scope warning beside any cue warning where the score reaches the detector's threshold."""
    from ..data.scope import scope_scores, scope_warnings

    scores = scope_scores(grey, detector, network, extracted)
    for result, score, warning in zip(results, scores, scope_warnings(scores, detector["threshold"])):
        result.scope_score = float(score)
        if warning is not None:
            result.warning = warning if result.warning is None else f"{result.warning}; {warning}"


def _preprocessed(grey: np.ndarray, method: str) -> np.ndarray:
    """The uint8 scans (N, 240, 240) as the network takes them: the model's brain extraction
    (`data.brain_extraction`, imported only for a method other than "none") applied; the input
    check reads the scans as given, before it."""
    if method == "none":
        return grey
    from ..data.brain_extraction import extract_brain

    return extract_brain(grey[..., np.newaxis], method)[..., 0]  # (N, H, W, 1): a stack, not one colour slice


def _write_overlays(model, batch: np.ndarray, results: list[Result], names: _OverlayNames) -> None:
    from ..evaluation.gradcam import gradcam, save_overlay

    heatmaps = gradcam(model, batch, class_index=1)
    for scan, heatmap, result in zip(batch[..., 0].astype(np.uint8), heatmaps, results):
        target = names.next_path(Path(result.file), result.slice)
        try:
            save_overlay(target, scan, heatmap, title=f"P(tumour) = {result.probability:.3f}")
        except OSError as error:
            raise PredictError(f"cannot write Grad-CAM overlay '{target}' ({error})") from None
