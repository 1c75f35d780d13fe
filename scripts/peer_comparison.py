"""This project's models beside the peer a user might pick instead, on the same scans, in one run.

    python scripts/peer_comparison.py            # make peer (installs the peer's pinned wheel first)

The peer is `detect-tumor` (PyPI; a VGG16 in ONNX, four classes: glioma, meningioma, notumor,
pituitary), trained on the Kaggle four-class "Brain Tumor MRI Dataset" that set B here was cut
from. Its tumour probability is 1 - P(notumor), and its label its own: the arg-max class is not
'notumor'. It reads each picture file itself (RGB, 240x240, 0..1); this project's models score
the same scans as `prepare` packed them from the same files.

Sets, each scored by every model: A's test rows, the LGG test rows (patients no model here
trained on), the outside scans C, and B's test rows (marked: B's healthy and tumour scans come
from different collections, and the peer trained on B's source). This run is a look at each of
those held-out sets (`braintumor/reports/disclosure.py` counts it). Writes
`model/peer_comparison.json`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from braintumor import config
from braintumor.files import atomic_write
from braintumor.machine import machine_description

RECORD = config.MODEL_DIR / "peer_comparison.json"
PEER = "detect-tumor"
KEPT = ("n", "accuracy", "sensitivity", "specificity", "roc_auc", "ci95")


def _sets() -> dict:
    """{set name: (files, packed images, labels, note)} for every held-out set that is present."""
    from braintumor.data.dataset import find_data_dir
    from braintumor.data.external import find_external_dir, load_external
    from braintumor.data.lgg import find_lgg_dir
    from braintumor.data.sources import find_extra_dir, load_sources

    sets = {}
    a, = load_sources(["brain-tumor"])
    test = a.part("test")
    image_dir = find_data_dir() / config.IMAGE_SUBDIR
    sets["A test"] = ([image_dir / f"{name}.jpg" for name in test["names"]], test["images"], test["labels"],
                      "skull-stripped BraTS slices")
    if find_lgg_dir():
        lgg, = load_sources(["lgg"])
        test = lgg.part("test")
        folder = find_lgg_dir()
        files = [folder / name.split("/")[0] / f"{name.split('/')[0]}_{name.split('/')[1]}.tif" for name in test["names"]]
        sets["LGG test"] = (files, test["images"], test["labels"], "FLAIR with skull, patients no model here trained on")
    outside_dir = find_external_dir()
    if outside_dir:
        outside = load_external(outside_dir)
        sets["outside C"] = ([outside_dir / name for name in outside.names], outside.images, outside.labels,
                             "clinical slices with skull; the peer's training set shares its healthy collection (Br35H)")
    if find_extra_dir():
        b, = load_sources(["extra"])
        test = b.part("test")
        sets["B test"] = ([find_extra_dir() / name for name in test["names"]], test["images"], test["labels"],
                          "collection-confounded; the peer trained on this set's source, so it is not scored here")
    return sets


def peer_probability(files, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray, float]:
    """The peer's tumour probability (1 - P(notumor)) and label (arg-max not 'notumor') per file,
    and its seconds per scan. Its own preprocessing and ONNX session, in batches, at full
    precision: `TumorDetector.predict` rounds probabilities to 0.01%, which ties ROC curves."""
    from detect_tumor import TumorDetector
    from detect_tumor.preprocess import preprocess

    session, input_name, class_labels = TumorDetector()._ensure_session()
    notumor = next(index for index, name in class_labels.items() if name == "notumor")
    started, outputs = time.perf_counter(), []
    for start in range(0, len(files), batch_size):
        batch = np.concatenate([preprocess(str(path)) for path in files[start:start + batch_size]])
        outputs.append(np.asarray(session.run(None, {input_name: batch})[0], dtype=np.float64))
    scores = np.concatenate(outputs)
    return 1.0 - scores[:, notumor], (scores.argmax(axis=1) != notumor).astype(int), \
        (time.perf_counter() - started) / max(len(files), 1)


def _figures(labels, probability, predicted) -> dict:
    from braintumor.evaluation.metrics import binary_metrics

    figures = binary_metrics(labels, probability, 0.5)
    # The label each model gives (its own threshold, or the peer's arg-max), not 0.5.
    fixed = binary_metrics(labels, predicted.astype(float), 0.5)
    figures.update({key: fixed[key] for key in ("accuracy", "sensitivity", "specificity")})
    figures["ci95"] = {"roc_auc": figures["ci95"]["roc_auc"]}
    return {key: figures[key] for key in KEPT}


def ours() -> dict:
    """{model name: (keras path, threshold)} for this project's models whose folder has weights and a card."""
    from braintumor.models import configs, specs

    found = {}
    for name, spec in specs.SPECS.items():
        keras, card = config.REPO_ROOT / spec.file, config.REPO_ROOT / configs.model_dir(name) / configs.CARD_FILE
        if keras.is_file() and card.is_file():
            found[name] = (keras, json.loads(card.read_text())["threshold"])
    return found


def main(argv: list[str]) -> int:
    import importlib.metadata

    from braintumor.models.networks import library_versions, load_model, predict_tumour_probability

    try:
        peer_version = importlib.metadata.version(PEER)
    except importlib.metadata.PackageNotFoundError:
        print(f"{PEER} is not installed: run `make peer` (it installs bench/peer_requirements.txt)", file=sys.stderr)
        return 2
    sets = _sets()
    record = {"peer": {"package": PEER, "version": peer_version, "network": "VGG16 (ONNX)",
                       "trained_on": "Kaggle 'Brain Tumor MRI Dataset' (masoudnickparvar), four classes: the set B was cut from",
                       "label": "arg-max class is not 'notumor'; probability 1 - P(notumor)"},
              "sets": {name: {"n": int(len(labels)), "note": note} for name, (_, _, labels, note) in sets.items()},
              "scores": {}, "seconds_per_scan": {}}
    for name, (path, threshold) in ours().items():
        model = load_model(path)
        record["scores"][name], started, count = {}, time.perf_counter(), 0
        for set_name, (_, images, labels, _) in sets.items():
            probability = predict_tumour_probability(model, images)
            record["scores"][name][set_name] = _figures(labels, probability, (probability >= threshold).astype(int))
            count += len(labels)
        record["seconds_per_scan"][name] = (time.perf_counter() - started) / count
        print(name, {k: round(v["roc_auc"], 3) for k, v in record["scores"][name].items()}, file=sys.stderr, flush=True)
    record["scores"][PEER], total = {}, []
    for set_name, (files, _, labels, _) in sets.items():
        if set_name == "B test":  # the peer's own training collection (B is a part of it): its score says nothing
            continue
        probability, predicted, seconds = peer_probability(files)
        record["scores"][PEER][set_name] = _figures(labels, probability, predicted)
        total.append(seconds)
        print(PEER, set_name, round(record["scores"][PEER][set_name]["roc_auc"], 3), file=sys.stderr, flush=True)
    record["seconds_per_scan"][PEER] = float(np.mean(total))
    record.update(machine=machine_description(), versions=library_versions())
    atomic_write(RECORD, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    print(f"wrote {RECORD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
