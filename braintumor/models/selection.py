"""Choosing among candidates by the rules in `braintumor/decisions.toml`: the reference CNN's input
size (`resolution`), the shipped improved CNN (`improved_cnn`, `required_preprocess`), and
reading a screen's history as early stopping would. No TensorFlow: these read records only.
`networks` re-exports every name, so `from braintumor.models.networks import choose_improved`
works as before.
"""

from __future__ import annotations

import numpy as np

from ..decisions import decision
from .recipes import RECIPES, REQUIRED_PREPROCESS

#: The rules' parameters, as written in the registry.
MAX_MEGABYTES = decision("resolution").parameters["max_megabytes"]
MAX_TRAINING_SECONDS = decision("improved_cnn").parameters["max_training_seconds"]


def restored_epoch(val_loss: list[float], start_from_epoch: int = 0) -> int:
    """The 1-based epoch early stopping restores: lowest validation loss from epoch
    `start_from_epoch` on (the earlier, erratic epochs are not watched)."""
    first = min(start_from_epoch, len(val_loss) - 1)
    return min(range(first, len(val_loss)), key=lambda i: val_loss[i]) + 1


def choose_resolution(rows: list[dict], max_megabytes: float = MAX_MEGABYTES) -> dict:
    """The study row with the best validation accuracy among models small enough to ship
    (decision `resolution`: at most `MAX_MEGABYTES`, from the registry).

    Ties go to the smaller (faster) resolution. Rows come from the resolution study, which
    uses only train and validation data.
    """
    eligible = [row for row in rows if row["model_megabytes"] <= max_megabytes]
    if not eligible:
        raise ValueError(f"no studied resolution gives a model of at most {max_megabytes} MB")
    return max(eligible, key=lambda row: (row["val_accuracy"], -row["resolution"]))


def choose_improved(rows: list[dict], max_training_seconds: float = MAX_TRAINING_SECONDS,
                    min_start_from_epoch: int = RECIPES["improved"]["start_from_epoch"],
                    preprocess: str | None = REQUIRED_PREPROCESS) -> dict:
    """The search row (`model/improved_search.json`) with the best validation accuracy.

    Only candidates that trained within the CPU budget count (decision `improved_cnn`:
    `MAX_TRAINING_SECONDS`, from the registry), only those whose early
    stopping watched from `min_start_from_epoch` on (by default the improved recipe's own
    setting: a recipe that may stop on batch-norm noise is not eligible), and, unless
    `preprocess` is None, only those whose network preprocesses that way (by default the
    head crop that takes slice size and brightness away; see `REQUIRED_PREPROCESS`); ties go
    to the faster one. Returns the row; its `architecture` and `recipe` are what the
    single-source model's configuration (`model/single-source/config.toml`) must say.
    """
    eligible = [row for row in rows if row["seconds"] <= max_training_seconds
                and row["recipe"].get("start_from_epoch", 0) >= min_start_from_epoch
                and (preprocess is None or row["architecture"].get("preprocess", "resize") == preprocess)]
    if not eligible:
        raise ValueError(f"no searched candidate trained within {max_training_seconds} s "
                         f"with early stopping watching from epoch {min_start_from_epoch} on"
                         + (f" and preprocess {preprocess!r}" if preprocess else ""))
    best = max(eligible, key=lambda row: (row["val_accuracy"], -row["seconds"]))
    return {**best, "architecture": architecture_from_json(best["architecture"])}


def architecture_from_json(architecture: dict) -> dict:
    """`build_improved_cnn` keywords from their JSON form: lists back to tuples."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in architecture.items()}


def screen_summary(rows: list[dict], start_from_epoch: int = 8) -> list[dict]:
    """One line a screened candidate (`model/gpu_screen.json`), best first.

    The screen trains a fixed number of epochs and keeps every epoch's validation figures;
    this reads them as early stopping with the best weights restored would: the epoch of
    lowest validation loss at or after `start_from_epoch`, and its validation accuracy.
    The mean accuracy of the last five epochs shows how steady the candidate ends.
    """
    summary = []
    for row in rows:
        val_loss, val_accuracy = row["val_loss"], row["val_accuracy"]
        best = restored_epoch(val_loss, start_from_epoch) - 1
        summary.append({
            "name": row["name"],
            "parameters": row["parameters"],
            "epochs": len(val_loss),
            "best_epoch": best + 1,
            "val_loss": val_loss[best],
            "val_accuracy": val_accuracy[best],
            "val_accuracy_last5": round(float(np.mean(val_accuracy[-5:])), 4),
        })
    return sorted(summary, key=lambda line: (-line["val_accuracy"], line["val_loss"]))
