"""Near-duplicate scans: the same slice stored twice with small differences.

`prepare` groups byte-identical files so they never straddle splits, but a slice that was
re-encoded, shifted or taken next to another slice of the same patient is not caught by
a hash. Such a pair split between train and test lets a model score by recognising the
picture rather than the tumour. This module measures how often that happens.

Fingerprint: the scan averaged over 16 x 16 blocks of 15 x 15 pixels (a 16 x 16
thumbnail), which ignores JPEG noise and fine texture. Distance: mean absolute difference
of two thumbnails, in grey levels (0-255). Exact duplicates are at distance 0.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy.spatial.distance import cdist

from .. import config
from .dataset import grey_stack
from .splits import split_masks

THUMBNAIL_SIDE = 16
_CHUNK = 256  # query rows per distance block: 256 x 3762 float64 is under 8 MB

#: Scans whose nearest neighbour is at most this far apart (mean absolute thumbnail
#: difference, grey levels) count as near-duplicates. Measured on the 3762 scans:
#:
#: * nearest-neighbour distances: 113 scans at exactly 0 (the byte-identical groups), then
#:   nothing below 0.097; above that one broad hump with no valley to cut at (quantiles
#:   5% 0.56, 10% 0.84, 25% 1.43, 50% 2.33, 75% 3.39, 95% 5.51, max 10.75); the data hold
#:   many slices per patient, so most scans have a close neighbour;
#: * for scale (`perturbation_distances`, 400 scans): the same scan re-saved as JPEG at
#:   quality 50 moves at most 0.21, shifted by one pixel it moves 1.05 (median, 99% 1.70);
#:   two random scans are 21.3 apart (median, 1% quantile 5.5);
#: * by eye, pairs up to 1.0 show the same slice: all 30 furthest of the 58 flagged
#:   test/train pairs do. The exception is scans with very little brain (top of the head):
#:   mostly black, they land close to each other while differing (Image3509 vs Image824,
#:   0.69, also labelled differently).
#:
#: With no gap to cut at, 1.0 is a conservative choice: closer than a one-pixel shift of
#: the same scan typically moves it, so flagged pairs are the same picture for any
#: practical purpose. Neighbouring slices further apart still leak patient identity, which
#: only a patient-grouped split (the dataset has no patient IDs) could rule out.
NEAR_DUPLICATE_THRESHOLD = 1.0


def fingerprint(images) -> np.ndarray:
    """(N, 256) float64 thumbnails: each scan averaged over a 16 x 16 grid of blocks."""
    images = grey_stack(images)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W) or (N, H, W, 1), got {images.shape}")
    n_images, rows, cols = images.shape
    if rows % THUMBNAIL_SIDE or cols % THUMBNAIL_SIDE:
        raise ValueError(f"image side must be divisible by {THUMBNAIL_SIDE}, got {rows}x{cols}")
    block_rows, block_cols = rows // THUMBNAIL_SIDE, cols // THUMBNAIL_SIDE
    blocks = images.astype(np.float32).reshape(n_images, THUMBNAIL_SIDE, block_rows, THUMBNAIL_SIDE, block_cols)
    return blocks.mean(axis=(2, 4), dtype=np.float64).reshape(n_images, -1)


def _nearest(query: np.ndarray, reference: np.ndarray, same_set: bool) -> tuple[np.ndarray, np.ndarray]:
    """Index into `reference` and distance of each query row's nearest reference row.

    With `same_set` (query is reference) a row is never its own neighbour.
    """
    index = np.empty(len(query), dtype=np.int64)
    distance = np.empty(len(query), dtype=np.float64)
    for start in range(0, len(query), _CHUNK):
        block = cdist(query[start : start + _CHUNK], reference, "cityblock") / query.shape[1]
        rows = np.arange(len(block))
        if same_set:
            block[rows, start + rows] = np.inf
        index[start : start + len(block)] = block.argmin(axis=1)
        distance[start : start + len(block)] = block[rows, index[start : start + len(block)]]
    return index, distance


def nearest_neighbours(images) -> tuple[np.ndarray, np.ndarray]:
    """For every scan, the index of its nearest other scan and their distance (grey levels).

    All N^2 pairs, in blocks of rows: about 2.5 s for the 3762 scans.
    """
    thumbnails = fingerprint(images)
    if len(thumbnails) < 2:
        raise ValueError("need at least two images to find neighbours")
    return _nearest(thumbnails, thumbnails, same_set=True)


def threshold_evidence(distances, bin_width: float = 0.25) -> dict:
    """Histogram and quantiles of nearest-neighbour distances: where a threshold could go.

    Exact duplicates are counted apart (`exact`) so that the first bin shows only the
    near ones.
    """
    distances = np.asarray(distances, dtype=np.float64)
    exact = distances == 0
    top = max(float(distances.max()), bin_width)
    edges = np.arange(0.0, top + bin_width, bin_width)
    counts, edges = np.histogram(distances[~exact], bins=edges)
    levels = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "exact": int(exact.sum()),
        "quantiles": {str(q): float(v) for q, v in zip(levels, np.quantile(distances, levels))},
        "smallest_nonzero": float(distances[~exact].min()) if (~exact).any() else float("nan"),
    }


def perturbation_distances(images, n: int = 400, seed: int = 0) -> dict:
    """Distance between a scan and a lightly altered copy of itself, over `n` random scans.

    The yardstick for the threshold: how far apart the *same* picture can land after
    re-saving as JPEG (quality 50) or moving by one pixel. Returns quantiles per alteration.
    """
    images = grey_stack(images)
    rng = np.random.default_rng(seed)
    chosen = images[rng.choice(len(images), size=min(n, len(images)), replace=False)]

    def resaved(image: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=50)
        buffer.seek(0)
        return np.asarray(Image.open(buffer).convert("L"))

    altered = {
        "jpeg_quality_50": np.array([resaved(image) for image in chosen]),
        "shift_1_pixel": np.roll(chosen, 1, axis=2),
    }
    original = fingerprint(chosen)
    result = {}
    for name, copies in altered.items():
        distance = np.abs(fingerprint(copies) - original).mean(axis=1)
        result[name] = {str(q): float(v) for q, v in zip((0.5, 0.9, 0.99, 1.0), np.quantile(distance, (0.5, 0.9, 0.99, 1.0)))}
    return result


def cross_split_near_duplicates(images, split_column, threshold: float = NEAR_DUPLICATE_THRESHOLD) -> dict:
    """For each test and each validation scan: its nearest train scan and whether it is a near-duplicate.

    `split_column` holds 'train', 'val' or 'test' per image. Per evaluated split the result
    has `n`, `count` (scans with a train neighbour within `threshold`), `fraction`,
    `index` (positions in `images` of those scans), `nearest_train` (positions of their
    nearest train scans), `distance` and `has_near_duplicate` (one entry per scan).
    """
    split_column = np.asarray(split_column).astype(str)
    thumbnails = fingerprint(images)
    if len(split_column) != len(thumbnails):
        raise ValueError(f"{len(split_column)} split entries for {len(thumbnails)} images")
    train = np.flatnonzero(split_column == "train")
    if len(train) == 0:
        raise ValueError("no 'train' image to compare against")
    result: dict = {"threshold": float(threshold)}
    for split in ("test", "val"):
        members = np.flatnonzero(split_column == split)
        nearest, distance = _nearest(thumbnails[members], thumbnails[train], same_set=False)
        flagged = distance <= threshold
        result[split] = {
            "n": int(len(members)),
            "count": int(flagged.sum()),
            "fraction": float(flagged.mean()) if len(members) else float("nan"),
            "index": members,
            "nearest_train": train[nearest],
            "distance": distance,
            "has_near_duplicate": flagged,
        }
    return result


def has_train_twin(
    dataset,
    split_column=None,
    which: str = "test",
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    splits_path=config.SPLITS_PATH,
) -> np.ndarray:
    """Boolean per scan of split `which`: does it have a near-duplicate in train?

    In the order `splits.split_arrays(dataset)[which]["names"]` gives, so the mask lines up
    with that split's labels and predictions (`analysis.accuracy_by_near_duplicate`).
    `dataset` needs `.images` and `.names` (a loaded `Dataset`); `split_column` holds
    'train', 'val' or 'test' per scan of `dataset`, read from `splits_path` when None.
    Both `split_arrays` and `cross_split_near_duplicates` keep the dataset's order within a
    split, which is what lets the flags be returned as they are.
    """
    if which not in ("test", "val"):
        raise ValueError(f"which must be 'test' or 'val', got {which!r}")
    if split_column is None:
        masks = split_masks(dataset.names, splits_path)
        split_column = np.select([masks["train"], masks["val"], masks["test"]], ["train", "val", "test"], "")
    cross = cross_split_near_duplicates(dataset.images, split_column, threshold)
    return np.asarray(cross[which]["has_near_duplicate"], dtype=bool)
