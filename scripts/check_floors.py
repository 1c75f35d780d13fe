"""Floors for `make test` from a seed sweep: train every check-schedule model under several seeds.

    python scripts/check_floors.py                 # make check-floors: every run, then the record
    python scripts/check_floors.py run --seed 43   # one run (a subprocess of the above)

A model trained for 3 epochs on 640 rows lands on other weights on another CPU, much as under
another seed, so a floor set from one run is a coin toss on the next machine. This trains the
models `make test` trains (the reference CNN and the single-source model), exactly as
`model.ipynb` does on the check schedule, under each seed of `SEEDS` and once more with
oneDNN's kernels off (`TF_ENABLE_ONEDNN_OPTS=0`), and computes every figure the notebooks
assert of them (`evaluation.floors.check_figures`, and the ONNX export's agreement that
`erroranalysis.ipynb` asserts). It also scores the broken pipelines the checks must catch:
shuffled labels and one class only (trained so), and the threshold applied the wrong way
round (every working run's probabilities turned over). Per figure it writes the minimum,
median and maximum to `model/check_floors.json`, with `lscpu`'s model name and rows/s.

Each run is a subprocess, so that the seed and oneDNN's switch are set before TensorFlow
starts; a finished run (`build/check_floors/<run>.json`) is not run again. Only train and
validation rows choose anything here; the test rows are scored as `make test` scores them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from braintumor import config
from braintumor.evaluation.floors import RECORD_PATH, check_figures, load_floors
from braintumor.machine import machine_description

SEEDS = (42, 43, 44, 45, 46, 47, 48, 49)
ONEDNN_OFF_SEED = 42
BROKEN = ("shuffled labels", "one class only")
RUNS_DIR = Path("build/check_floors")
WHAT = ("figures of make test's check schedule (3 epochs, 640 train rows) under several seeds and oneDNN off, "
        "and of the broken pipelines the floors must catch (scripts/check_floors.py). The test rows are scored "
        "as every make test scores them; nothing but the check floors is set from these figures, and no shipped "
        "model, threshold or recipe is chosen by them")


def _runs() -> dict[str, dict]:
    """{run name: {"args": worker arguments, "env": environment changes}}."""
    runs = {f"seed-{seed}": {"args": ["--seed", str(seed)], "env": {}} for seed in SEEDS}
    runs[f"seed-{ONEDNN_OFF_SEED}-onednn-off"] = {"args": ["--seed", str(ONEDNN_OFF_SEED)],
                                                 "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}
    for broken in BROKEN:
        runs[broken.replace(" ", "-")] = {"args": ["--seed", str(config.SEED), "--broken", broken], "env": {}}
    return runs


def _entry(labels, probability, threshold, pairs, head_area) -> dict:
    from braintumor.evaluation.metrics import binary_metrics
    from braintumor.evaluation.shortcut import matched_metrics

    entry = binary_metrics(labels, probability, threshold, with_ci=False)
    entry["head_matched"] = matched_metrics(labels, probability, threshold, pairs, head_area)
    return entry


def _figures(val, test, val_probability, test_probability, reference_test_probability, pairs, head_area) -> dict:
    """`check_figures` as `model.ipynb` computes them: the improved CNN at its validation
    threshold (`choose_threshold`), the reference CNN at 0.5."""
    from braintumor.evaluation.metrics import choose_threshold

    threshold = choose_threshold(val["labels"], val_probability)
    improved = _entry(test["labels"], test_probability, threshold, pairs, head_area)
    reference = _entry(test["labels"], reference_test_probability, 0.5, pairs, head_area)
    return {**check_figures(improved, reference), "improved CNN threshold": threshold}


def run(seed: int, broken: str | None, out: Path) -> None:
    """Train the check schedule's two CNNs as `model.ipynb` does and write their figures."""
    from dataclasses import replace

    from braintumor.data.dataset import load_npz
    from braintumor.data.sources import brain_tumor_source, scheduled_source
    from braintumor.data.splits import scheduled_rows, split_arrays
    from braintumor.evaluation.shortcut import head_size_matched_pairs, slice_cues
    from braintumor.models import training
    from braintumor.models.export import agreement
    from braintumor.models.networks import (build_reference_cnn, choose_resolution, predict_tumour_probability,
                                            save_for_inference, set_determinism, train)
    from braintumor.models.recipes import RECIPES, scheduled

    assert seed == config.TRAINING_SEED, "the worker reads its seed from BRAIN_TUMOR_SEED"
    set_determinism(seed)
    dataset = load_npz()
    data = split_arrays(dataset)
    train_split, val, test = data["train"], data["val"], data["test"]
    fit = dict(scheduled_rows(train_split, "check"))
    if broken == "shuffled labels":
        fit["labels"] = np.random.default_rng(seed).permutation(fit["labels"])
    elif broken == "one class only":
        fit["labels"] = np.zeros_like(fit["labels"])
    elif broken is not None:
        raise ValueError(f"unknown broken pipeline {broken!r}: use one of {BROKEN}")

    study = json.loads(config.RESOLUTION_STUDY_PATH.read_text())
    resolution = choose_resolution(study["reference"]["rows"])["resolution"]
    started = time.perf_counter()
    reference = build_reference_cnn(resolution=resolution)
    reference_fit = train(reference, fit["images"], fit["labels"], val["images"], val["labels"],
                          **scheduled(RECIPES["reference"], "reference", "check"))
    # The single-source model as model.ipynb trains it (models.training.train), on the same (broken) labels.
    a = scheduled_source(brain_tumor_source(dataset=dataset), "check")
    labels = a.labels.copy()
    assert list(a.names[a.split == "train"]) == list(fit["names"]), "the two CNNs must train on the same rows"
    labels[a.split == "train"] = fit["labels"]
    trained = training.train("single-source", "check", sources=[replace(a, labels=labels)])
    improved, improved_fits = trained.model, trained.fits
    train_seconds = time.perf_counter() - started
    rows_trained = len(fit["labels"]) * (reference_fit.epochs_run + sum(f.epochs_run for f in improved_fits))

    head_area = slice_cues(test["images"])["head_area"].to_numpy()
    pairs = head_size_matched_pairs(head_area, test["labels"])
    val_probability = predict_tumour_probability(improved, val["images"])
    test_probability = predict_tumour_probability(improved, test["images"])
    reference_probability = predict_tumour_probability(reference, test["images"])
    record = {"run": out.stem, "seed": seed, "broken": broken,
              "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0",
              "figures": _figures(val, test, val_probability, test_probability, reference_probability, pairs, head_area),
              "train_seconds": round(train_seconds, 1),
              "rows_per_second": round(rows_trained / train_seconds, 1), "machine": machine_description()}
    if broken is None:
        # The threshold applied the wrong way round: what a flipped class column gives.
        record["wrong_way_round"] = _figures(val, test, 1 - val_probability, 1 - test_probability,
                                             1 - reference_probability, pairs, head_area)
        # erroranalysis.ipynb asserts that a model this run trained agrees with its ONNX export.
        path = RUNS_DIR / f"{out.stem}.keras"
        save_for_inference(improved, path)
        figures = agreement(improved, path.with_suffix(".onnx"), test["images"], record["figures"]["improved CNN threshold"])
        record["figures"]["improved CNN ONNX vs Keras max difference"] = figures["max_abs_diff"]
        path.unlink()
        path.with_suffix(".onnx").unlink()
    from braintumor.evaluation.records import write_json

    write_json(out, record)
    print(f"{out.stem}: " + ", ".join(f"{name} {value:.4g}" for name, value in record["figures"].items()), flush=True)


def _spread(values) -> dict:
    return {"min": float(np.min(values)), "median": float(np.median(values)), "max": float(np.max(values)),
            "n": len(values)}


def summarise(results: dict[str, dict]) -> dict:
    """The record: per figure, the working runs' spread and each broken pipeline's value."""
    working = [r for r in results.values() if r["broken"] is None]
    names = working[0]["figures"]
    broken = {r["broken"]: r["figures"] for r in results.values() if r["broken"] is not None}
    broken["threshold the wrong way round"] = {  # the best any working run's reversal scored
        name: max(r["wrong_way_round"][name] for r in working) for name in working[0]["wrong_way_round"]}
    floors = load_floors()
    return {
        "what": WHAT,
        "cpu": machine_description()["cpu"],
        "machine": machine_description(),
        "seeds": list(SEEDS), "onednn_off_seed": ONEDNN_OFF_SEED,
        "runs": {name: {k: r[k] for k in ("seed", "broken", "onednn", "train_seconds", "rows_per_second")}
                 for name, r in results.items()},
        "sweep": {name: _spread([r["figures"][name] for r in working]) for name in names},
        "broken": broken,
        "floors_when_written": {schedule: floors[schedule] for schedule in ("check",)},
        "per_run": {name: r["figures"] for name, r in results.items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", default="all", choices=("all", "run", "summarise"))
    parser.add_argument("--seed", type=int, default=config.SEED)
    parser.add_argument("--broken", choices=BROKEN)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.step == "run":
        run(args.seed, args.broken, args.out)
        return 0
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    if args.step == "all":
        for name, spec in _runs().items():
            out = RUNS_DIR / f"{name}.json"
            if out.is_file():
                print(f"{name}: done before, kept", flush=True)
                continue
            seed = spec["args"][1]
            env = {**os.environ, **spec["env"], config.SEED_ENV_VAR: seed}
            subprocess.run([sys.executable, __file__, "run", *spec["args"], "--out", str(out)], env=env, check=True)
    results = {name: json.loads((RUNS_DIR / f"{name}.json").read_text()) for name in _runs()}
    from braintumor.evaluation.records import write_json

    write_json(RECORD_PATH, summarise(results))
    print(f"wrote {RECORD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
