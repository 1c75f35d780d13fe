"""What every study shares: its record, the figures kept per row, the resumable row loop, the
final training of a pick."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..evaluation.metrics import binary_metrics, choose_pooled_threshold
from ..evaluation.shortcut import matched_metrics_of
from ..files import atomic_write
from ..machine import machine_description

#: The figures a row keeps of each set it is scored on.
KEPT = ("n", "n_pairs", "accuracy", "sensitivity", "specificity", "balanced_accuracy", "roc_auc", "ci95", "confusion")


def read_record(path: Path) -> dict:
    """The study's record, or an empty one ({"rows": []}) before its first row."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {"rows": []}


def write_record(path: Path, record: dict, **fields) -> None:
    """`record` with `fields` and the library versions, written to a temporary name and renamed."""
    from ..models.networks import library_versions

    record.update(fields, versions=library_versions())
    atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))


def figures(labels, probability, threshold, matched: bool = False, images=None) -> dict:
    """`KEPT` of `binary_metrics` at `threshold`, balanced accuracy added; with `matched`, the
    same on the scans' head-size-matched pairs (which `images` give)."""
    scored = binary_metrics(labels, probability, threshold)
    scored["balanced_accuracy"] = (scored["sensitivity"] + scored["specificity"]) / 2
    kept = {key: scored[key] for key in KEPT if key in scored}
    if matched:
        pairs = matched_metrics_of(images, labels, probability, threshold)
        kept["matched"] = {key: pairs[key] for key in KEPT if key in pairs}
    return kept


def weights_digest(model) -> str:
    """SHA-256 of a network's weights (shapes and float32 bytes, in layer order): equal for the
    same trained weights however often the `.keras` file is saved (its zip carries a date)."""
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        array = np.ascontiguousarray(array, dtype=np.float32)
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def probability(model, images) -> np.ndarray:
    from ..models.networks import predict_tumour_probability

    return predict_tumour_probability(model, images)


def held_out_figures(model, rows: dict, threshold) -> dict:
    """`figures` of `model` on `rows` ({"images", "labels"}), with their head-size-matched pairs:
    how a study scores a left-out site or source and the single-source model on the same rows."""
    return figures(rows["labels"], probability(model, rows["images"]), threshold, matched=True, images=rows["images"])


def validation_figures(model, sources, threshold, main: str = "brain-tumor") -> dict:
    """Each training source's validation figures; the main source's with its matched pairs."""
    out = {}
    for source in sources:
        val = source.part("val")
        out[source.name] = figures(val["labels"], probability(model, val["images"]), threshold,
                                   matched=source.name == main, images=val["images"])
    return out


def pooled_threshold(model, sources) -> tuple[float, float]:
    """The pooled threshold (`choose_pooled_threshold`) and the mean per-source balanced
    accuracy it reaches on the sources' validation rows."""
    from ..data.sources import pooled

    val = pooled(sources, "val")
    scores = probability(model, val["images"])
    threshold = choose_pooled_threshold(val["labels"], scores, val["source"])
    balanced = [figures(val["labels"][val["source"] == k], scores[val["source"] == k], threshold)["balanced_accuracy"]
                for k in range(len(sources))]
    return threshold, float(np.mean(balanced))


def run_rows(path: Path, todo: Iterable[tuple[str, dict]], train_row: Callable[[dict], dict],
             minutes: float | None = None, **fields) -> dict:
    """Train each (name, spec) of `todo` not yet in the record at `path`, writing the record
    after every row, so that a stopped study resumes where it stopped. Each row records its
    seconds, rows/s (None for a row that trains nothing) and CPU. With `minutes`, no row starts once that many minutes have gone
    by or when the slowest row so far would not end within them."""
    todo = list(todo)
    started, slowest = time.perf_counter(), 0.0
    for number, (name, spec) in enumerate(todo, start=1):
        record = read_record(path)
        if any(row["name"] == name for row in record["rows"]):
            continue
        elapsed = (time.perf_counter() - started) / 60
        if minutes is not None and elapsed + slowest >= minutes:
            print(f"stopping before {name}: {elapsed:.0f} of {minutes:.0f} min gone, a row takes up to "
                  f"{slowest:.0f}; rerun to resume", file=sys.stderr, flush=True)
            break
        print(f"[{number}/{len(todo)}] {name}", file=sys.stderr, flush=True)
        row_started = time.perf_counter()
        row = {"name": name, **spec, **train_row(spec)}
        row["seconds"] = round(time.perf_counter() - row_started, 1)
        # A row that trains nothing (a committed model scored as it is) has no training speed.
        trained, seconds = row.pop("rows_trained"), row.get("train_seconds")
        row["rows_per_second"] = round(trained / seconds, 1) if trained and seconds else None
        row["machine"] = machine_description()["cpu"]
        slowest = max(slowest, row["seconds"] / 60)
        record = read_record(path)
        record["rows"] = [r for r in record["rows"] if r["name"] != name] + [row]
        write_record(path, record, **fields)
        print(f"  {name}: {row['seconds']:.0f} s, {row['rows_per_second'] or 'no'} rows/s", file=sys.stderr, flush=True)
    return read_record(path)


def train_final(train: Callable[[], tuple], path: Path) -> tuple[object, dict]:
    """A study's final model: `train()` -> (model, first fit, train rows per source), saved for
    inference (`.keras` and ONNX) at `path`. Returns (model, the fields every final entry keeps:
    model_file, trained_rows, best_epoch, epochs_run, seconds (training and saving), rows/s, CPU,
    weights_sha256); the study adds its threshold, figures and rule's outcome."""
    from ..models.networks import save_for_inference

    started = time.perf_counter()
    model, fit, trained = train()
    save_for_inference(model, path)
    return model, {"model_file": str(path), "trained_rows": trained, "best_epoch": fit.best_epoch,
                   "epochs_run": fit.epochs_run, "seconds": round(time.perf_counter() - started, 1),
                   "rows_per_second": round(sum(trained.values()) * fit.epochs_run / fit.seconds, 1),
                   "machine": machine_description()["cpu"], "weights_sha256": weights_digest(model)}
