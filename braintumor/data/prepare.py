"""`python -m braintumor prepare`: raw Kaggle folder -> `data/image_data.npz` + `data/splits.csv`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import config
from .dataset import find_data_dir, load_raw, save_npz, summarize
from .splits import SPLIT_NAMES, make_splits, write_splits


def prepare(
    data_dir=None,
    out: Path = config.NPZ_PATH,
    splits_out: Path | None = config.SPLITS_PATH,
    seed: int = config.SEED,
) -> dict:
    """Validate the raw data, pack it and write the split; return what was found.

    Everything is validated before anything is written; each output goes to a temporary
    file first, so a failure leaves no partial npz behind.
    """
    folder = find_data_dir(data_dir)
    dataset = load_raw(folder)
    split = make_splits(dataset, seed=seed)
    save_npz(dataset, Path(out))
    if splits_out is not None:
        write_splits(Path(splits_out), dataset.names, dataset.labels, split)
    summary = summarize(dataset)
    summary["duplicate_group_members"] = dataset.duplicate_groups
    summary["split_counts"] = {
        name: {
            config.CLASS_NAMES[k]: int(((split == name) & (dataset.labels == k)).sum()) for k in range(2)
        }
        for name in SPLIT_NAMES
    }
    summary["duplicate_groups_across_splits"] = sum(
        len({split[np.flatnonzero(dataset.names == member)[0]] for member in group}) > 1
        for group in dataset.duplicate_groups
    )
    return summary


def format_summary(summary: dict) -> str:
    counts = summary["class_counts"]
    lines = [
        f"images: {summary['images']}  shape {tuple(summary['shape'])} {summary['dtype']}",
        "class balance: " + ", ".join(f"{name} {n} ({n / summary['images']:.1%})" for name, n in counts.items()),
        f"exact duplicates: {summary['duplicate_groups']} groups of byte-identical files "
        f"({summary['images_in_duplicate_groups']} images, {summary['redundant_copies']} redundant copies, "
        f"largest group {summary['largest_duplicate_group']})",
        f"dataset fingerprint (sha256 of image hashes + labels): {summary['fingerprint']}",
        "split (no tumour / tumour): "
        + ", ".join(f"{name} {c['no tumour']}/{c['tumour']}" for name, c in summary["split_counts"].items()),
        f"duplicate groups spread over more than one split: {summary['duplicate_groups_across_splits']}",
    ]
    return "\n".join(lines)
