"""The leave-one-source-out study's figures: how a pair model, the single-source model and the
trivial-cue model are scored, and the one scoring of every row and shipped model on held-out data
(`python -m braintumor study loso score`). The steps that train are in `steps`."""

from __future__ import annotations

import json

import numpy as np

from ... import config
from ...machine import machine_description
from ...models import configs
from .. import base, held_out
from . import rules

MODEL_NAME = "all-source"  # model/studies/all-source/config.toml
ALL_SOURCE_MODEL = configs.model_file(MODEL_NAME)  # model/studies/all-source/model.keras
MATCHED_SOURCES = ("brain-tumor", "lgg")  # the sources with the slice-level shortcut: matched pairs


def pair_threshold(model, sources) -> float:
    from ...data.sources import pooled
    from ...evaluation.metrics import choose_threshold

    val = pooled(sources, "val")
    return float(choose_threshold(val["labels"], base.probability(model, val["images"])))


def left_out_figures(model, source, threshold) -> dict:
    rows = source.subset(np.isin(source.split, rules.HELD_OUT_SPLITS))
    return base.figures(rows.labels, base.probability(model, rows.images), threshold,
                        matched=source.name in MATCHED_SOURCES, images=rows.images)


def validation_figures_of(model, sources, threshold) -> dict:
    return {s.name: base.figures(s.part("val")["labels"], base.probability(model, s.part("val")["images"]), threshold)
            for s in sources}


def shortcut_table(by_name: dict) -> dict:
    """The trivial-cue model, grouped 5-fold, per source and on the three pooled."""
    from ...data.sources import pooled
    from ...evaluation.shortcut import POOLED_CUE_NAMES, cross_validated_cue_scores, pooled_cues

    table = {name: cross_validated_cue_scores(pooled_cues(s.images, np.zeros(len(s.labels))), s.labels, s.groups, config.SEED,
                                              features=[c for c in POOLED_CUE_NAMES if c != "source"])["summary"]
             for name, s in by_name.items()}
    every = pooled(list(by_name.values()))
    table["pooled"] = cross_validated_cue_scores(pooled_cues(every["images"], every["source"]), every["labels"],
                                                 every["groups"], config.SEED, features=POOLED_CUE_NAMES)["summary"]
    return table


def single_source_baseline(by_name: dict) -> dict:
    """The shipped single-source model on A's validation rows and on B's and LGG's held-out rows."""
    from ...models.networks import load_model

    entry = held_out.single_source_baseline(by_name["brain-tumor"], {})
    model = load_model(config.MODEL_PATH)
    return {**entry, "held_out": {name: left_out_figures(model, by_name[name], entry["threshold"]) for name in ("extra", "lgg")}}


def score(record: dict, by_name: dict, outside) -> dict:
    """Every row and shipped model on the outside scans, the shipped models on each source's test rows."""
    from ...models.networks import load_model

    metrics = json.loads(config.METRICS_PATH.read_text())
    shipped = {"single-source": (config.MODEL_PATH, metrics["threshold"]),
               "two-source": (configs.model_file("two-source"), metrics["two_source"]["threshold"]),
               MODEL_NAME: (ALL_SOURCE_MODEL, record["all_source"]["threshold"])}
    rows = [{**row, "outside": base.figures(outside.labels, base.probability(load_model(row["model_file"]), outside.images),
                                            row["threshold"])} for row in record["rows"]]
    scores = {}
    for name, (path, threshold) in shipped.items():
        model = load_model(path)
        scores[name] = {"threshold": threshold, "outside": base.figures(outside.labels, base.probability(model, outside.images), threshold),
                        **{f"{s.name}_test": base.figures(s.part("test")["labels"], base.probability(model, s.part("test")["images"]),
                                                          threshold, matched=s.name in MATCHED_SOURCES, images=s.part("test")["images"])
                           for s in by_name.values()}}
    return {"rows": rows, "shipped_scores": scores, "scored_on": machine_description()["cpu"]}
