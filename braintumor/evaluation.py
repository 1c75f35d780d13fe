"""Scoring every model alike and writing `model/metrics.json`.

One entry per model, with the same metric names as the shipped model's `test` block, so
the README table, the report and the model card all read the same numbers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from . import config
from .files import atomic_write
from .metrics import binary_metrics

#: What the seed notebook's author reported (random 20% split, so not comparable row for
#: row with ours, which keeps duplicate images on one side). Quoted, never recomputed.
SEED_REPORT = {
    "description": "Seed two-conv CNN as its author reported it (random 20% split, 240x240x3)",
    "train_accuracy": 0.979,
    "val_accuracy": 0.887,
    "test_accuracy": 0.919,
    "missed_tumours": 41,
    "test_tumours": 334,
}


def model_entry(
    description: str,
    y_true,
    probability,
    threshold: float,
    parameters: int | None,
    train_seconds: float,
    image_derived: bool = True,
) -> dict:
    """Test metrics of one model, with what it is and what it cost to train."""
    entry = binary_metrics(y_true, probability, threshold)
    entry.update(
        description=description,
        parameters=parameters,
        train_seconds=round(float(train_seconds), 2),
        image_derived=image_derived,
    )
    return entry


def majority_probability(y_train, n: int) -> np.ndarray:
    """The majority-class baseline: every scan gets the training tumour rate as probability."""
    return np.full(n, float(np.mean(y_train)))


def _clean(value):
    """JSON has no NaN: write None instead, and plain Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def write_json(path: str | os.PathLike, payload: dict) -> None:
    text = json.dumps(_clean(payload), indent=2, sort_keys=False) + "\n"
    atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike = config.METRICS_PATH) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"'{path}' is missing; run model.ipynb (`make train`) first.")
    return json.loads(path.read_text())
