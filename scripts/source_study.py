"""Leave-one-source-out study: which training sources and augmentations carry to scans
from elsewhere?

Sources: A (this dataset, `brain-tumor`), B (the extra source, `extra`), C (the outside
scans, `$BRAIN_TUMOR_EXTERNAL`, evaluation only). Two steps, in this order:

1. ``python scripts/source_study.py train '[{"name": ..., "sources": ["brain-tumor", "extra"],
   "arch": {...}}]'`` trains each candidate on its sources' train rows (classes balanced
   within each source when several are pooled), early stopping on their validation rows,
   and records validation figures only: A's validation rows, A's head-size-matched
   validation pairs, B's validation rows. A candidate with "model_file" is not trained:
   that file is scored (the shipped single-source model).
2. ``python scripts/source_study.py score`` applies `models.specs.pick_two_source` (a rule on
   the validation columns, committed before any row met C) and only then scores every row
   on A's test rows, A's matched test pairs, B's held-out rows and C, at each row's
   validation threshold. Every run of this step is a look at C and at A's test rows.

Rows go to `model/source_study.json` (committed; model.ipynb shows the table); trained
networks to `build/source_study/` (not committed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from braintumor import config
from braintumor.evaluation.records import score_everywhere
from braintumor.files import atomic_write
from braintumor.machine import machine_description
from braintumor.evaluation.metrics import binary_metrics, choose_threshold
from braintumor.models.specs import PICK_RULE, STUDY_PATH, pick_two_source, train_on_sources
from braintumor.models.networks import (architecture_from_json, library_versions, load_model, predict_tumour_probability,
                               save_for_inference)
from braintumor.evaluation.shortcut import matched_metrics_of
from braintumor.data.sources import load_sources
from braintumor.models.recipes import RECIPES

MODELS = Path("build/source_study")
FIGURES = ("n", "accuracy", "sensitivity", "specificity", "roc_auc", "ci95", "confusion")


def _read() -> dict:
    return json.loads(STUDY_PATH.read_text()) if STUDY_PATH.is_file() else {"rows": []}


def _write(study: dict) -> None:
    study["versions"] = library_versions()
    atomic_write(STUDY_PATH, lambda tmp: tmp.write_text(json.dumps(study, indent=2) + "\n"))


def _kept(figures: dict) -> dict:
    return {key: figures[key] for key in ("n_pairs",) + FIGURES if key in figures}


def _scores(labels, probability, threshold) -> dict:
    return _kept(binary_metrics(labels, probability, threshold))


def train_rows(candidates: list[dict]) -> None:
    brain_tumor, extra = load_sources(["brain-tumor", "extra"])
    for candidate in tqdm(candidates, desc="study rows", unit="row"):
        sources = [source for source in (brain_tumor, extra) if source.name in candidate["sources"]]
        path = MODELS / f"{candidate['name']}.keras"
        start = time.perf_counter()
        if "model_file" in candidate:
            model, fit = load_model(candidate["model_file"]), None
            architecture, recipe = candidate.get("arch", {}), candidate.get("recipe", {})
        else:
            architecture = architecture_from_json(candidate.get("arch", {}))
            recipe = {**RECIPES["improved"], **candidate.get("recipe", {})}
            model, fit = train_on_sources(architecture, recipe, sources)
            MODELS.mkdir(parents=True, exist_ok=True)
            save_for_inference(model, path)
        a_val, b_val = brain_tumor.part("val"), extra.part("val")
        p_a, p_b = predict_tumour_probability(model, a_val["images"]), predict_tumour_probability(model, b_val["images"])
        # The threshold is fixed on the validation rows of the sources the row trained on.
        pooled_labels = np.concatenate([a_val["labels"]] + ([b_val["labels"]] if extra in sources else []))
        pooled_probability = np.concatenate([p_a] + ([p_b] if extra in sources else []))
        threshold = choose_threshold(pooled_labels, pooled_probability)
        row = {
            "name": candidate["name"],
            "sources": [source.name for source in sources],
            "architecture": architecture,
            "recipe": recipe,
            "model_file": candidate.get("model_file", str(path)),
            "threshold": threshold,
            "validation": {
                "brain_tumor": _scores(a_val["labels"], p_a, threshold),
                "brain_tumor_matched": _kept(matched_metrics_of(a_val["images"], a_val["labels"], p_a, threshold)),
                "extra": _scores(b_val["labels"], p_b, threshold),
            },
            "best_epoch": fit.best_epoch if fit else None,
            "epochs_run": fit.epochs_run if fit else None,
            "seconds": round(time.perf_counter() - start, 1) if fit else None,
            "machine": machine_description()["cpu"],
        }
        print(json.dumps({k: row[k] for k in ("name", "threshold", "seconds")}),
              {k: round(v["roc_auc"], 4) for k, v in row["validation"].items()}, flush=True)
        study = _read()
        study["rows"] = [r for r in study["rows"] if r["name"] != row["name"]] + [row]
        _write(study)


def score_rows() -> None:
    from braintumor.data.external import find_external_dir, fingerprint, load_external

    study = _read()
    picked = pick_two_source(study["rows"])  # from validation columns only, before any score below
    study["picked"], study["rule"] = picked["name"], PICK_RULE
    brain_tumor, extra = load_sources(["brain-tumor", "extra"])
    outside_dir = find_external_dir()
    outside = load_external(outside_dir) if outside_dir else None
    for row in tqdm(study["rows"], desc="scoring rows", unit="row"):
        scores = score_everywhere(load_model(row["model_file"]), row["threshold"], brain_tumor, extra, outside)
        row["held_out"] = {name: _kept(figures) for name, figures in scores.items()}
        print(row["name"], {k: round(v["roc_auc"], 3) for k, v in row["held_out"].items()}, flush=True)
    study["outside_fingerprint"] = fingerprint(outside.sha256) if outside is not None else None
    study["scored_on"] = machine_description()["cpu"]
    _write(study)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "train":
        train_rows(json.loads(argv[1]))
    elif argv == ["score"]:
        score_rows()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
