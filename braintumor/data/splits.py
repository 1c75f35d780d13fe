"""Train / validation / test split, stratified by label and grouped by duplicate images.

Byte-identical files form one group and always land in the same split, so no scan is
both trained on and tested on. The split is a pure function of (names, labels, groups,
seed): rerunning `prepare` rewrites the same `data/splits.csv`.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .. import config
from .dataset import DataError
from ..files import atomic_write

SPLIT_NAMES = ("train", "val", "test")


def group_ids(names, duplicate_groups) -> np.ndarray:
    """An integer group per image: shared by byte-identical files, unique otherwise."""
    index = {str(name): i for i, name in enumerate(names)}
    ids = np.arange(len(names))
    for group in duplicate_groups:
        first = index[group[0]]
        for name in group[1:]:
            ids[index[name]] = first
    return ids


def grouped_stratified_split(
    labels,
    groups,
    test_fraction: float = config.TEST_FRACTION,
    val_fraction: float = config.VAL_FRACTION,
    seed: int = config.SEED,
) -> np.ndarray:
    """Assign each image to 'train', 'val' or 'test'.

    Per class, whole groups are shuffled with `seed` and dealt to test until it holds
    `test_fraction` of that class's images, then to validation, then the rest to train.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    split = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        in_class = labels == label
        class_groups = np.unique(groups[in_class])
        class_groups = class_groups[rng.permutation(len(class_groups))]
        n_class = int(in_class.sum())
        targets = {"test": round(test_fraction * n_class), "val": round(val_fraction * n_class)}
        filled = {"test": 0, "val": 0}
        for group in class_groups:
            members = in_class & (groups == group)
            size = int(members.sum())
            destination = "train"
            for name in ("test", "val"):
                if filled[name] < targets[name]:
                    destination = name
                    filled[name] += size
                    break
            split[members] = destination
    return split.astype(str)


def make_splits(dataset, seed: int = config.SEED) -> np.ndarray:
    groups = group_ids(dataset.names, dataset.duplicate_groups)
    return grouped_stratified_split(dataset.labels, groups, seed=seed)


def write_splits(path: Path, names, labels, split) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["image", "label", "split"])
            for row in zip(names, labels, split):
                writer.writerow([str(row[0]), int(row[1]), str(row[2])])

    atomic_write(path, write)


def read_splits(path: str | os.PathLike = config.SPLITS_PATH) -> dict[str, str]:
    """Map image name to its split, from `data/splits.csv`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"'{path}' is missing; write it with `python -m braintumor prepare`.")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        result = {}
        for line, record in enumerate(reader, start=2):
            if record.get("split") not in SPLIT_NAMES:
                raise DataError(f"'{path}' line {line}: split {record.get('split')!r} is not one of {SPLIT_NAMES}.")
            result[record["image"]] = record["split"]
    return result


def split_masks(names, splits_path: str | os.PathLike = config.SPLITS_PATH) -> dict[str, np.ndarray]:
    """Boolean masks over `names` for 'train', 'val' and 'test', from `data/splits.csv`."""
    assignment = read_splits(splits_path)
    missing = [str(name) for name in names if str(name) not in assignment]
    if missing:
        raise DataError(
            f"'{splits_path}' has no row for image '{missing[0]}' ({len(missing)} missing); "
            f"rebuild it with `python -m braintumor prepare`."
        )
    column = np.array([assignment[str(name)] for name in names])
    return {name: column == name for name in SPLIT_NAMES}


def split_arrays(dataset, splits_path: str | os.PathLike = config.SPLITS_PATH) -> dict[str, dict[str, np.ndarray]]:
    """{'train'|'val'|'test': {'images', 'labels', 'names'}} views of a loaded `Dataset`."""
    masks = split_masks(dataset.names, splits_path)
    return {
        name: {"images": dataset.images[mask], "labels": dataset.labels[mask], "names": dataset.names[mask]}
        for name, mask in masks.items()
    }


#: How many train rows of each source a check-schedule run (`make test`) trains on: a
#: class-stratified sample, seeded. The check run is a regression check of the code path,
#: not a second estimate of the figures, and must fit CI on a slow 2-core CPU (a training
#: step of the head-crop network takes about 0.85 s on the AMD EPYC host measured).
CHECK_TRAIN_ROWS = 640


def stratified_sample(rows, labels, cap: int, rng: np.random.Generator) -> np.ndarray:
    """`cap` of `rows` (indices, with `labels` their labels), each class kept in its share
    (rounded), drawn by `rng` without replacement; unsorted. The one sampler of training rows:
    the check schedule's sample and every configuration's row caps draw through it."""
    rows, labels = np.asarray(rows), np.asarray(labels)
    kept = []
    for label in (0, 1):
        of_class = rows[labels == label]
        share = int(round(cap * len(of_class) / len(rows)))
        kept.append(rng.choice(of_class, min(share, len(of_class)), replace=False))
    return np.concatenate(kept)


def scheduled_rows(part: dict, schedule: str, seed: int = config.SEED, rows: int = CHECK_TRAIN_ROWS) -> dict:
    """`part` ({'images', 'labels', ...} arrays of one split) as a schedule trains on it: whole
    for "full"; for "check", a class-stratified sample of `rows` rows (`stratified_sample`,
    seeded), in their order."""
    if schedule == "full" or len(part["labels"]) <= rows:
        return part
    if schedule != "check":
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    index = np.arange(len(part["labels"]))
    keep = np.sort(stratified_sample(index, part["labels"], rows, np.random.default_rng(seed)))
    return {key: value[keep] for key, value in part.items()}


#: On the check schedule, what is computed scan by scan over a whole set for a report (the ONNX
#: export against Keras, the Grad-CAM shares of every test row, the brain extraction's effect)
#: takes at most this many of its rows, evenly spaced: the check tries the code path and the
#: files; make reproduce takes every row.
CHECK_PASS_ROWS = 200


def evenly_spaced(n: int, at_most: int | None) -> np.ndarray:
    """Indices of at most `at_most` of `n` rows, evenly spaced, the first included (all for None)."""
    if at_most is None or n <= at_most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, at_most).round().astype(int))


def pass_rows(n: int, schedule: str) -> np.ndarray:
    """The rows of a set of `n` that a scan-by-scan pass over the whole set takes on `schedule`:
    every row on "full", `CHECK_PASS_ROWS` of them (`evenly_spaced`) on "check"."""
    if schedule not in ("full", "check"):
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    return evenly_spaced(n, CHECK_PASS_ROWS if schedule == "check" else None)
