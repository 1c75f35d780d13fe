"""What a study does with held-out data and with the shipped single-source model: the sets a
score step reads, the score-once gate that counts each look, and the single-source baseline
every study compares against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from .. import config
from ..machine import machine_description
from .base import held_out_figures, read_record, validation_figures, write_record


def single_source_baseline(main_source, held_out: dict) -> dict:
    """The shipped single-source model (`model/single-source/model.keras` at metrics.json's threshold) on a
    study's rows: `main_source`'s validation rows, and each held-out part ({name: {"images",
    "labels"}}) with its head-size-matched pairs."""
    from ..models.networks import load_model

    model, threshold = load_model(config.MODEL_PATH), json.loads(config.METRICS_PATH.read_text())["threshold"]
    return {"model_file": str(config.MODEL_PATH), "threshold": threshold,
            "validation": validation_figures(model, [main_source], threshold),
            "held_out": {name: held_out_figures(model, rows, threshold) for name, rows in held_out.items()}}


#: The held-out sets a study's score step reads (`held_out_sets`), in this order.
HELD_OUT_SETS = ("brain-tumor_test", "lgg_test", "outside", "extra_all")


def held_out_sets(a, lgg) -> dict:
    """{name: (images, labels, head-size-matched pairs?)} of `HELD_OUT_SETS`: A's and LGG's test
    rows, the outside scans C and every row of set B (evaluation only, collection-confounded)."""
    from ..data.external import find_external_dir, load_external
    from ..data.sources import extra_source

    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("set BRAIN_TUMOR_EXTERNAL to score the outside scans: the score step reads every set at once")
    outside, b = load_external(outside_dir), extra_source()
    return {"brain-tumor_test": (a.part("test")["images"], a.part("test")["labels"], True),
            "lgg_test": (lgg.part("test")["images"], lgg.part("test")["labels"], True),
            "outside": (outside.images, outside.labels, False), "extra_all": (b.images, b.labels, False)}


def score_once(path: Path, score: Callable[[], dict], looked_with: str, sets: Iterable[str], key: str = "scores",
               **fields) -> dict:
    """The score-once gate: a study's held-out figures (test rows, outside scans) are computed
    once, after its rules have run, and each computation is a look that the documents count
    (`reports.disclosure` reads the record's "looks"). Refuses, naming the earlier look, when the
    record at `path` holds scores already (under `key`); `score()` returns the fields to write, `key` among them."""
    from datetime import date

    record = read_record(path)
    if record.get(key):
        earlier = (record.get("looks") or [{}])[-1]
        raise SystemExit(f"{path}: scored already ({earlier.get('when', 'date not recorded')}, "
                         f"{earlier.get('machine', '?')}); scoring again would be another look at held-out data. "
                         f"Remove its {key!r} by hand, and say why in docs/decisions.md, if that look is wanted")
    scored = score()
    if key not in scored:
        raise ValueError(f"score() must return the figures under {key!r}")
    look = {"what": looked_with, "sets": list(sets), "when": date.today().isoformat(), "machine": machine_description()["cpu"]}
    write_record(path, record, **{**fields, **scored}, looks=[*record.get("looks", []), look])
    return read_record(path)
