"""What `predict` prints: one `Result` line per scan, bad file or skipped file, a `Summary`
line after each volume's or series' slices, and a progress bar on a terminal (stderr).

Every JSON line carries the version of its keys (`schema`, `options.JSON_SCHEMA`) and names
the model and the runtime that the run used (`model`, `runtime`), an error or skip line too,
so that a reader of one line alone knows where it came from. A model whose card asks for a brain
extraction before the network adds `preprocessing` (its method) to every line; "none" adds nothing,
so a line of such a model reads as it always did.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import numpy as np

from .. import config
from .options import JSON_SCHEMA


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
    model: str | None = None  # the name of the model that scored it (`models.specs`), or its file
    slice: int | None = None  # its index in a volume or series (0: inferior), None for a picture
    runtime: str | None = None  # "onnx" or "keras": what scored it
    preprocessing: str | None = None  # the model's brain extraction before the network; None for "none"
    scope_score: float | None = None  # the scope detector's out-of-scope score (`data.scope`); None without one

    def as_json(self) -> str:
        record = {"schema": JSON_SCHEMA, "file": self.file}
        if self.error is not None:
            record["error"] = self.error
        elif self.skipped is not None:
            record["skipped"] = self.skipped
        else:
            if self.slice is not None:
                record["slice"] = self.slice
            record.update(probability=round(self.probability, 6), label=self.label)
            if self.scope_score is not None:
                record["scope_score"] = round(self.scope_score, 4)
        for key in ("model", "runtime", "preprocessing", "warning"):
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
    sequence: str | None = None  # a DICOM series' MR sequence (`data.sequence`); None for a NIfTI volume
    warning: str | None = None  # where that sequence is outside what the default model is for
    model: str | None = None
    runtime: str | None = None
    preprocessing: str | None = None
    error = skipped = probability = None  # read by `run` like a Result's

    def as_json(self) -> str:
        record = {"schema": JSON_SCHEMA, "file": self.file}
        if self.series is not None:
            record["series"] = self.series
        best = int(np.argmax(self.probabilities))
        record.update(
            slices=len(self.probabilities), max_probability=round(float(self.probabilities[best]), 6), max_slice=best,
            slices_at_or_over_threshold=int(sum(p >= self.threshold for p in self.probabilities)),
        )
        for key in ("sequence", "warning", "note", "model", "runtime", "preprocessing"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        return json.dumps(record)

    def as_text(self) -> str:
        best = int(np.argmax(self.probabilities))
        over = sum(p >= self.threshold for p in self.probabilities)
        line = (f"{self.file}\t{len(self.probabilities)} slices: max {self.probabilities[best]:.3f} at slice {best}; "
                f"{over} at or over {self.threshold:.3f}")
        for key in ("sequence", "warning", "note"):
            if getattr(self, key) is not None:
                line = f"{line}\t{key}: {getattr(self, key)}"
        return line


def progress_bar(total: int, stream=None):
    """The run's progress bar: a `tqdm` bar on stderr counting scans (a picture, or a slice of a
    volume or series; an entry that gives no scan, an error or a skipped file, counts as one),
    drawn only when stderr is a terminal (never in a pipe, a log or a notebook, and never on
    stdout, where the results and the --json lines go). `total` starts as the number of
    entries; `scoring.predict_entries` raises it by a volume's or series' slices once it is
    read, and moves the bar on per scored batch. Lines printed while it is drawn go through
    `print_line`, which writes them above it. Off a terminal it is a `_NoBar`, so that tqdm (which
    reads the installed distributions' metadata when imported: tens of milliseconds) stays out of a
    piped or scripted run's start-up."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return _NoBar(total)
    from tqdm import tqdm

    return tqdm(total=total, desc="predict", unit="scan", file=stream, leave=False, dynamic_ncols=True)


class _NoBar:
    """What `progress_bar` gives off a terminal: a disabled tqdm bar's interface, drawing nothing."""

    disable = True

    def __init__(self, total: int):
        self.total, self.n = total, 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def print_line(line: str, stream, bar=None) -> None:
    """Print `line` to `stream`: above the progress bar when one is drawn and `stream` is a
    terminal too (the bar is cleared, the line written, the bar redrawn), else as it is (the
    results of `predict ... > out.txt` do not redraw the bar line by line)."""
    if bar is None or bar.disable or not stream.isatty():
        print(line, file=stream)
    else:
        bar.write(line, file=stream)
