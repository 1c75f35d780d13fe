"""Resolution study (`make study`): validation accuracy, model size and CPU seconds per epoch of
a network at several input sizes, on the train and validation rows only (the test rows stay
untouched). The reference CNN's rule (`resolution`, braintumor/decisions.toml) reads its rows.

    python -m braintumor study resolution train --model reference --resolutions 64 96 112 128

The record (model/resolution_study.json, committed so that CI need not retrain every size) keeps
one entry per network, {"rows", "recipe", "machine"}; a rerun replaces that network's entry."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import config
from ..machine import machine_description
from . import base

NETWORKS = ("reference", "improved")


def row(network: str, resolution: int, train_split: dict, val_split: dict) -> dict:
    """One input size: the network built at `resolution`, trained with its recipe
    (`models.recipes.RECIPES`), its best epoch's validation figures and its speed."""
    from ..models import networks
    from ..models.recipes import RECIPES

    model = getattr(networks, f"build_{network}_cnn")(resolution=resolution)
    started = time.perf_counter()
    fit = networks.train(model, train_split["images"], train_split["labels"], val_split["images"], val_split["labels"],
                         **RECIPES[network])
    best = fit.best_epoch - 1
    return {"resolution": resolution, "parameters": int(model.count_params()),
            "model_megabytes": round(model.count_params() * 4 / 1e6, 1),
            "val_accuracy": round(fit.history["val_accuracy"][best], 4), "val_loss": round(fit.history["val_loss"][best], 4),
            "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "seconds_per_epoch": round(fit.seconds_per_epoch, 1),
            "rows_per_second": round(len(train_split["labels"]) * fit.epochs_run / (time.perf_counter() - started), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor study resolution", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train",))
    parser.add_argument("--model", choices=NETWORKS, default="reference")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 96, 112, 128])
    parser.add_argument("--out", default=config.RESOLUTION_STUDY_PATH)
    args = parser.parse_args(argv)
    from ..data.dataset import load_npz
    from ..data.splits import split_arrays
    from ..models.recipes import RECIPES

    data = split_arrays(load_npz())
    rows = []
    for resolution in args.resolutions:
        rows.append(row(args.model, resolution, data["train"], data["val"]))
        print(rows[-1], flush=True)
    entry = {"rows": rows, "recipe": RECIPES[args.model], "machine": machine_description()["cpu"]}
    record = base.read_record(args.out) if Path(args.out).is_file() else {}  # not a row record: one entry per network
    base.write_record(args.out, record, **{args.model: entry})
    print(f"wrote {args.out}")
    return 0
