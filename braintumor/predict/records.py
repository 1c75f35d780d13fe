"""What `predict` prints: one `Result` line per scan, bad file or skipped file, a `Summary`
line after each volume's or series' slices, and a progress line on a terminal.

Every JSON line names the model and the runtime that the run used (`model`, `runtime`), an
error or skip line too, so that a reader of one line alone knows where it came from.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from .. import config


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
    ends_entry: bool = False  # the last line of its entry (for the progress line)

    def as_json(self) -> str:
        record = {"file": self.file}
        if self.error is not None:
            record["error"] = self.error
        elif self.skipped is not None:
            record["skipped"] = self.skipped
        else:
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
    sequence: str | None = None  # a DICOM series' MR sequence (`data.sequence`); None for a NIfTI volume
    warning: str | None = None  # where that sequence is outside what the default model is for
    model: str | None = None
    runtime: str | None = None
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
        for key in ("sequence", "warning", "note", "model", "runtime"):
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


class Progress:
    """'predict: 40/150 entries' on one terminal line (stderr), redrawn at most every 0.2 s:
    what a long run needs, in a few lines instead of a progress-bar library, so that the
    light install (`pip install .`) runs it too. `write` prints a line above it."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.stream, self.drawn = total, 0, stream or sys.stderr, 0.0

    def update(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.drawn >= 0.2 or self.done == self.total:
            self.drawn = now
            self.stream.write(f"\rpredict: {self.done}/{self.total} entries")
            self.stream.flush()

    def write(self, line: str) -> None:
        self.stream.write(f"\r\033[K{line}\n")
        self.drawn = 0.0  # redraw the count under it at the next update

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()
