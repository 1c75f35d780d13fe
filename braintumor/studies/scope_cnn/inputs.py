"""What the second scope study reads, described once (rule `scope_sequence_cnn`).

In scope (label 0): A's rows and LGG's FLAIR slices; out of scope (label 1): the same LGG slices
in pre- and post-contrast T1 (`data.lgg_t1`). Each scan's brain is extracted once (the default's
own `classical-v1`), and every variant's input is cut from it (brain64, brain96) or from the
scan as read (head64) by `data.scope.sequence_inputs`. The inputs are kept in build/ (derived
data, never committed) so that `train` and `pick` extract each scan once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import config
from ...data.scope import SEQUENCE_INPUTS

CACHE = Path("build/scope_cnn_inputs.npz")
SOURCES = ("brain-tumor", "lgg", "lgg-t1")


def _raw(schedule: str) -> dict:
    """{source: {"images", "labels" (in/out of scope), "split", "site"}}; "check": every 8th scan."""
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.sources import brain_tumor_source, lgg_source

    a, lgg = brain_tumor_source(), lgg_source()
    folder = find_lgg_t1_dir()
    if folder is None:
        raise SystemExit("set BRAIN_TUMOR_LGG_T1 (../shared/data/extra/lgg-t1): the study learns from the T1 slices")
    t1 = load_lgg_t1(folder)
    step = 8 if schedule == "check" else 1
    sets = {"brain-tumor": (a.images, a.split, np.array(["A"] * len(a.split)), 0),
            "lgg": (lgg.images, lgg.split, np.array([str(n).split("_")[1] for n in lgg.names]), 0),
            "lgg-t1": (t1.images, t1.split, t1.site, 1)}
    return {name: {"images": images[::step], "labels": np.full(len(split[::step]), label),
                   "split": np.asarray(split)[::step].astype(str), "site": np.asarray(site)[::step].astype(str)}
            for name, (images, split, site, label) in sets.items()}


def variant_inputs(images: np.ndarray, extracted: np.ndarray | None = None, variants=tuple(SEQUENCE_INPUTS)) -> dict[str, np.ndarray]:
    """{variant: its inputs} for raw scans, for each of `variants` (default: all); `extracted`: the
    same scans after classical-v1, when already made (each variant with an extraction reads them as
    they are, which gives the same inputs as extracting again)."""
    from ...data.brain_extraction import extract_brain
    from ...data.scope import sequence_inputs

    if extracted is None and any(SEQUENCE_INPUTS[variant][1] != "none" for variant in variants):
        extracted = extract_brain(np.asarray(images, dtype=np.uint8), "classical-v1")
    return {variant: sequence_inputs(extracted if SEQUENCE_INPUTS[variant][1] != "none" else images,
                                     SEQUENCE_INPUTS[variant][0], "none") for variant in variants}


def load(schedule: str = "full") -> dict:
    """Every source with its variants' inputs: {source: {"labels", "split", "site", "images",
    "inputs": {variant: (N, side, side, 1)}}}, from the cache when it holds this schedule's."""
    raw = _raw(schedule)
    cache = config.REPO_ROOT / CACHE.with_name(f"{CACHE.stem}_{schedule}.npz")
    counts = np.array([len(raw[name]["labels"]) for name in SOURCES])
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as kept:
            if np.array_equal(kept["counts"], counts):
                for name in SOURCES:
                    raw[name]["inputs"] = {variant: kept[f"{name}__{variant}"] for variant in SEQUENCE_INPUTS}
                return raw
    for name in SOURCES:
        raw[name]["inputs"] = variant_inputs(raw[name]["images"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{name}__{variant}": raw[name]["inputs"][variant] for name in SOURCES for variant in SEQUENCE_INPUTS}
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, counts=counts, **arrays)
    tmp.replace(cache)
    return raw


def rows(data: dict, variant: str, where) -> tuple[np.ndarray, np.ndarray]:
    """`variant`'s inputs and labels of every source's rows that `where(part)` selects."""
    picked = [(part["inputs"][variant][where(part)], part["labels"][where(part)]) for part in data.values()]
    return np.concatenate([x for x, _ in picked]), np.concatenate([y for _, y in picked])
