"""`braintumor predict`: tumour probability for scans given as files or folders.

Images of any size and common mode are turned into the model's input (240x240 grey,
0..255); 16-bit grey images (and 32-bit integer ones, clipped) are divided by 257, so an
absolute intensity maps to the same 8-bit value whatever else is in the image. Folders are
searched recursively (a downloaded dataset comes as class folders); every file met gets one
line: a prediction, an error, or a note that it was skipped as not an image. Scans run
through the model in batches, and a bad file becomes an error line instead of stopping the
run. When metrics.json beside the model holds an `input_check` rule, a scan unlike the
training data gets a warning with its prediction. TensorFlow is imported only once there is
something to predict, so `--help` and argument errors stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from . import config
from .data.images import ImageReadError, read_scan

DEFAULT_THRESHOLD = 0.5
DEFAULT_BATCH_SIZE = 64
#: A progress bar is worth its noise only for runs that take a while.
PROGRESS_MIN_IMAGES = 100



class PredictError(Exception):
    """The run cannot start (model or output folder unusable); the message says why."""


@dataclass
class Entry:
    """One file or folder to report on: predict it, or report its error or why it is skipped."""

    path: Path
    error: str | None = None
    skipped: str | None = None


@dataclass
class Result:
    """One input: its tumour probability and label (and a warning when the scan is unlike
    the training data), or why it has none (an error, or why it was skipped)."""

    file: str
    probability: float | None = None
    label: int | None = None
    error: str | None = None
    skipped: str | None = None
    warning: str | None = None
    model: str | None = None  # the name of the model that scored it (`model_specs`), or its file

    def as_json(self) -> str:
        if self.error is not None:
            return json.dumps({"file": self.file, "error": self.error})
        if self.skipped is not None:
            return json.dumps({"file": self.file, "skipped": self.skipped})
        record = {"file": self.file, "probability": round(self.probability, 6), "label": self.label}
        if self.model is not None:
            record["model"] = self.model
        if self.warning is not None:
            record["warning"] = self.warning
        return json.dumps(record)

    def as_text(self) -> str:
        if self.error is not None:
            return f"{self.file}\terror: {self.error}"
        if self.skipped is not None:
            return f"{self.file}\tskipped: {self.skipped}"
        line = f"{self.file}\t{self.probability:.3f}\t{config.CLASS_NAMES[self.label]}"
        return line if self.warning is None else f"{line}\twarning: {self.warning}"


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


def expand_paths(paths) -> list[Entry]:
    """What to report on, in the given order; folders are walked by `walk_folder`.

    A file named on the command line is always read (whatever its suffix); a missing path,
    or a folder without any image file below it, keeps its place as an error so that it is
    reported in order with the rest.
    """
    entries: list[Entry] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list(walk_folder(path))
            unlisted = any(entry.path == path and entry.error for entry in found)  # already says why
            if not unlisted and not any(entry.error is None and entry.skipped is None for entry in found):
                suffixes = ", ".join(sorted(config.IMAGE_SUFFIXES))
                entries.append(Entry(path, error=f"folder holds no images (looked for {suffixes}, in subfolders too)"))
            entries.extend(found)
        elif path.exists():
            entries.append(Entry(path))
        else:
            entries.append(Entry(path, error="no such file or folder"))
    return entries


def walk_folder(folder: Path) -> Iterator[Entry]:
    """Every file below `folder`, depth first, each folder's entries sorted by name.

    Names starting with '.' (files and folders) are passed over silently. A link to a
    folder inside `folder` is not followed (the folder is walked under its own name); other
    folder links are, but each real folder is entered once, so a link loop neither hangs
    nor lists a file twice. A file whose suffix is not an image's is skipped (with a line
    saying so); one with an image suffix that is not a regular file (a broken link, a pipe)
    is an error.
    """
    root = folder.resolve()
    entered = {_folder_key(folder)}
    stack = [_sorted_children(folder)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if isinstance(child, Entry):  # a folder that could not be listed
            yield child
        elif child.is_dir():
            path = Path(child.path)
            if child.is_symlink() and path.resolve().is_relative_to(root):
                continue
            key = _folder_key(path)
            if key not in entered:
                entered.add(key)
                stack.append(_sorted_children(path))
        else:
            yield _file_entry(Path(child.path), child.is_file())


def _folder_key(folder: Path) -> tuple[int, int]:
    """(device, inode) of the folder a path leads to: the same for every link to it."""
    info = folder.stat()
    return info.st_dev, info.st_ino


def _sorted_children(folder: Path) -> Iterator[os.DirEntry | Entry]:
    """The folder's entries not starting with '.', sorted by name; an error `Entry` when the
    folder cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            children = sorted((child for child in listing if not child.name.startswith(".")), key=lambda c: c.name)
    except OSError as error:
        return iter([Entry(folder, error=f"cannot list folder ({error.strerror or error})")])
    return iter(children)


def _file_entry(path: Path, is_regular_file: bool) -> Entry:
    if path.suffix.lower() not in config.IMAGE_SUFFIXES:
        return Entry(path, skipped="not an image file")
    if not is_regular_file:
        return Entry(path, error="not a regular file (a broken link, a pipe or a device)")
    return Entry(path)


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
        return config.REPO_ROOT / SPECS[name].file, name
    path = Path(name)
    known = {spec.file.name: spec.name for spec in SPECS.values()}
    if path.suffix != ".keras" and not path.exists():
        raise PredictError(f"--model {name!r} is neither a model name ({', '.join(SPECS)}) nor a model file.")
    return path, known.get(path.name, str(path))


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


def load_checked_model(model_path: Path):
    """Load the model in safe mode and check it follows the package's input/output contract."""
    load_model = _import_models_lean().load_model

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


# --------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------


class _OverlayNames:
    """`<stem>_gradcam.png` in the folder, numbered when two inputs share a stem."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.used: set[str] = set()

    def next_path(self, image_path: Path) -> Path:
        name, number = f"{image_path.stem}_gradcam.png", 1
        while name in self.used:
            number += 1
            name = f"{image_path.stem}_{number}_gradcam.png"
        self.used.add(name)
        return self.folder / name


def predict_entries(
    model,
    entries: list[Entry],
    threshold: float = DEFAULT_THRESHOLD,
    batch_size: int = DEFAULT_BATCH_SIZE,
    gradcam_dir: Path | None = None,
    input_rule: dict | None = None,
) -> Iterator[Result]:
    """Yield one `Result` per entry of `expand_paths`, in order, predicting `batch_size` at a time.

    label is 1 (tumour) iff probability >= threshold. With `gradcam_dir`, a Grad-CAM
    overlay of the tumour class is written there for every scan that was predicted. With
    `input_rule` (see `braintumor.input_check`), a scan outside it gets a `warning`.
    """
    overlay_names = _OverlayNames(Path(gradcam_dir)) if gradcam_dir is not None else None
    for start in range(0, len(entries), batch_size):
        results, scans, scan_results = [], [], []
        for entry in entries[start:start + batch_size]:
            result = Result(file=str(entry.path), error=entry.error, skipped=entry.skipped)
            if entry.error is None and entry.skipped is None:
                try:
                    scans.append(read_scan(entry.path))
                    scan_results.append(result)
                except ImageReadError as read_error:
                    result.error = str(read_error)
            results.append(result)
        if scans:
            grey = np.stack(scans)
            batch = grey[..., np.newaxis].astype(np.float32)
            probabilities = np.asarray(model.predict_on_batch(batch))[:, 1]
            for result, probability in zip(scan_results, probabilities):
                result.probability = float(probability)
                result.label = int(probability >= threshold)
            if input_rule is not None:
                from .data.input_check import input_warnings

                for result, warning in zip(scan_results, input_warnings(grey, input_rule)):
                    result.warning = warning
            if overlay_names is not None:
                _write_overlays(model, batch, scan_results, overlay_names)
        yield from results


def _write_overlays(model, batch: np.ndarray, results: list[Result], names: _OverlayNames) -> None:
    from .evaluation.gradcam import gradcam, save_overlay

    heatmaps = gradcam(model, batch, class_index=1)
    for scan, heatmap, result in zip(batch[..., 0].astype(np.uint8), heatmaps, results):
        target = names.next_path(Path(result.file))
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
) -> int:
    """The `predict` command: print one line per input; 1 if any input failed, else 0.

    Results go to stdout; error and skip lines go to stdout as JSON with --json (one stream
    to parse), else to stderr. Skipped files (not images) leave the exit status alone.
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
    model = load_checked_model(model_path)

    entries = expand_paths(paths)
    results = predict_entries(model, entries, threshold, batch_size, gradcam_dir, input_rule)
    progress = None
    if sys.stderr.isatty() and len(entries) > PROGRESS_MIN_IMAGES:
        from tqdm import tqdm

        progress = tqdm(total=len(entries), unit="image", file=sys.stderr)
    failed = 0
    try:
        for result in results:
            result.model = model_name if result.probability is not None else None
            failed += result.error is not None
            if as_json:
                print(result.as_json())
            elif result.error is None and result.skipped is None:
                print(result.as_text())
            elif progress is not None:
                progress.write(result.as_text(), file=sys.stderr)
            else:
                print(result.as_text(), file=sys.stderr)
            if progress is not None:
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
