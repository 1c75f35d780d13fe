"""Training sources behind one small interface: names, labels, images, groups and a split.

Two sources are known:

* ``brain-tumor`` (A): the Kaggle "Brain Tumor" set this project is built on
  (jakeshbohaju/brain-tumor): skull-stripped axial BraTS slices, 240x240, labels in a CSV.
  `prepare` packs it into `data/image_data.npz` and splits it into `data/splits.csv`.
* ``extra`` (B): the public Kaggle "Brain Tumor MRI Dataset" (masoudnickparvar), training
  half, less the near-copies of every other shared set: clinical slices with a skull, one
  folder per class (`glioma/`, `meningioma/`, `pituitary/` = tumour, `notumor/`). Read from
  `$BRAIN_TUMOR_EXTRA`, packed into `data/extra_image_data.npz` and split into
  `data/extra_splits.csv`, grouped by near-duplicates.

Every scan is stored as the model sees it: grey, 240x240, uint8 0..255 (B's pictures are
converted by `predict.read_scan`, the conversion `braintumor predict` applies to a user's
file). A third source is a loader that returns a `Source` and an entry in `LOADERS`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist

from .. import config
from .dataset import DataError, Dataset, exact_duplicate_groups, load_npz, save_npz
from .splits import SPLIT_NAMES, group_ids, grouped_stratified_split, split_masks, write_splits

EXTRA_ENV_VAR = "BRAIN_TUMOR_EXTRA"
EXTRA_NPZ_PATH = Path("data/extra_image_data.npz")
EXTRA_SPLITS_PATH = Path("data/extra_splits.csv")

HOW_TO_GET_EXTRA = (
    "Get the Kaggle dataset masoudnickparvar/brain-tumor-mri-dataset "
    "(https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset), take its Training/ "
    "folder, keep only the files its SHA-256 list names (the shared copy's "
    "brain-tumor-mri-training.SHA256SUMS: near-copies of the other sets removed), and point "
    f"${EXTRA_ENV_VAR} at the folder that holds glioma/, meningioma/, notumor/ and pituitary/."
)

#: Class folders of the extra source and their label (tumour types all mean 'tumour').
EXTRA_CLASS_FOLDERS = {"glioma": 1, "meningioma": 1, "pituitary": 1, "notumor": 0}


@dataclass
class Source:
    """One source's scans, in a fixed order, with their split and near-duplicate groups."""

    name: str
    images: np.ndarray  # (N, 240, 240, 1) uint8
    labels: np.ndarray  # (N,) 0 no tumour, 1 tumour
    names: np.ndarray  # (N,) str, unique within the source
    groups: np.ndarray  # (N,) int: copies share a group and so a split
    split: np.ndarray  # (N,) 'train' | 'val' | 'test'

    def part(self, split_name: str) -> dict[str, np.ndarray]:
        """{'images', 'labels', 'names'} of one split."""
        if split_name not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES}, not {split_name!r}")
        mask = self.split == split_name
        return {"images": self.images[mask], "labels": self.labels[mask], "names": self.names[mask]}

    @property
    def class_counts(self) -> dict[str, int]:
        return {config.CLASS_NAMES[k]: int((self.labels == k).sum()) for k in range(2)}

    def subset(self, keep) -> "Source":
        """The rows where `keep` holds (a boolean mask, one per row), in their order, every
        array cut alike: the one place a source loses rows (a site left out, a cap, a sample)."""
        from dataclasses import replace

        keep = np.asarray(keep)
        if keep.dtype != bool or keep.shape != self.labels.shape:
            raise ValueError(f"{self.name}: subset takes one boolean per row ({len(self.labels)}), "
                             f"not an array of {keep.dtype} shaped {keep.shape}")
        return replace(self, images=self.images[keep], labels=self.labels[keep], names=self.names[keep],
                       groups=self.groups[keep], split=self.split[keep])


# --------------------------------------------------------------------------------------
# Near-duplicate groups (the extra source has no byte-identical copies to lean on)
# --------------------------------------------------------------------------------------


def near_duplicate_groups(images, threshold: float | None = None) -> np.ndarray:
    """An integer group per scan: scans within `threshold` of each other (thumbnail distance,
    `neardup.fingerprint`, default `neardup.NEAR_DUPLICATE_THRESHOLD`) are joined, and so are
    chains of them (connected components), so that no pair of near-copies straddles a split."""
    from .neardup import NEAR_DUPLICATE_THRESHOLD, fingerprint

    threshold = NEAR_DUPLICATE_THRESHOLD if threshold is None else threshold
    thumbnails = fingerprint(images)
    n = len(thumbnails)
    rows, cols = [], []
    for start in range(0, n, 512):  # 512 x N distances at a time: bounded memory
        block = cdist(thumbnails[start:start + 512], thumbnails, metric="cityblock") / thumbnails.shape[1]
        close_rows, close_cols = np.nonzero(block <= threshold)
        rows.append(close_rows + start)
        cols.append(close_cols)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


# --------------------------------------------------------------------------------------
# The extra source: raw folder -> packed arrays + split
# --------------------------------------------------------------------------------------


def find_extra_dir(extra_dir=None) -> Path | None:
    """The extra source's folder: `extra_dir`, else `$BRAIN_TUMOR_EXTRA`, else None (unused).

    Raises `DataError` when one is named but is not a folder of the expected class folders.
    """
    value = extra_dir if extra_dir is not None else os.environ.get(EXTRA_ENV_VAR)
    if not value:
        return None
    folder = Path(value)
    if not folder.is_dir():
        raise DataError(f"extra source '{folder}' is not a folder; {HOW_TO_GET_EXTRA}")
    present = {child.name for child in folder.iterdir() if child.is_dir() and not child.name.startswith(".")}
    missing = sorted(set(EXTRA_CLASS_FOLDERS) - present)
    unknown = sorted(present - set(EXTRA_CLASS_FOLDERS))
    if missing or unknown:
        problem = (f"lacks {', '.join(m + '/' for m in missing)}" if missing
                   else f"holds unknown folder(s) {', '.join(u + '/' for u in unknown)}")
        raise DataError(f"extra source '{folder}' {problem}; it must hold exactly "
                        f"{', '.join(f + '/' for f in EXTRA_CLASS_FOLDERS)} (move anything else out).")
    return folder


def load_extra_raw(folder) -> Dataset:
    """Read and validate the extra source's class folders, sorted by relative path.

    Every image file is decoded once (grey, 240x240, as `predict` converts a user's scan);
    a file that does not decode or a class folder without images raises `DataError` naming
    it and the fix. Byte-identical files with different labels are refused too.
    """
    from .external import ExternalDataError, load_external

    try:
        loaded = load_external(folder)
    except ExternalDataError as error:
        raise DataError(str(error)) from None
    groups = exact_duplicate_groups(loaded.names, loaded.sha256)
    by_name = dict(zip(loaded.names.tolist(), loaded.labels.tolist()))
    for group in groups:
        if len({by_name[name] for name in group}) > 1:
            raise DataError(f"'{folder}': files {group} are byte-identical but sit in folders of different "
                            f"classes; delete the copy in the wrong folder.")
    return Dataset(images=loaded.images, labels=loaded.labels.astype(np.uint8), names=loaded.names,
                   sha256=loaded.sha256, duplicate_groups=groups)


def extra_groups(dataset: Dataset) -> np.ndarray:
    """Groups of the extra source: near-duplicates (which include the byte-identical files:
    they decode to the same picture, distance 0)."""
    return near_duplicate_groups(dataset.images)


def prepare_extra(folder, out: Path = EXTRA_NPZ_PATH, splits_out: Path = EXTRA_SPLITS_PATH,
                  seed: int = config.SEED) -> dict:
    """Validate the extra source, pack it and split it (grouped by near-duplicates, stratified
    by label, the main set's fractions); return what was found. Nothing is written unless
    every file validated; each output is written to a temporary name, then renamed."""
    dataset = load_extra_raw(folder)
    groups = extra_groups(dataset)
    split = grouped_stratified_split(dataset.labels, groups, seed=seed)
    save_npz(dataset, Path(out))
    write_splits(Path(splits_out), dataset.names, dataset.labels, split)
    folders = np.array([name.split("/", 1)[0] for name in dataset.names])
    sizes = np.bincount(groups)
    return {
        "images": int(len(dataset.labels)),
        "class_counts": dataset.class_counts,
        "folder_counts": {name: int((folders == name).sum()) for name in EXTRA_CLASS_FOLDERS},
        "exact_duplicate_groups": len(dataset.duplicate_groups),
        "near_duplicate_groups": int((sizes > 1).sum()),
        "scans_in_near_duplicate_groups": int(sizes[sizes > 1].sum()),
        "split_counts": {
            name: {config.CLASS_NAMES[k]: int(((split == name) & (dataset.labels == k)).sum()) for k in range(2)}
            for name in SPLIT_NAMES
        },
    }


def format_extra_summary(summary: dict) -> str:
    counts = summary["class_counts"]
    return "\n".join([
        f"extra source: {summary['images']} images; "
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + " (" + ", ".join(f"{k}/ {v}" for k, v in summary["folder_counts"].items()) + ")",
        f"  byte-identical groups {summary['exact_duplicate_groups']}; near-duplicate groups "
        f"{summary['near_duplicate_groups']} ({summary['scans_in_near_duplicate_groups']} scans), kept in one split each",
        "  split (no tumour / tumour): "
        + ", ".join(f"{name} {c['no tumour']}/{c['tumour']}" for name, c in summary["split_counts"].items()),
    ])


# --------------------------------------------------------------------------------------
# Loading prepared sources
# --------------------------------------------------------------------------------------


def _with_split(name: str, dataset: Dataset, splits_path: Path, groups: np.ndarray) -> Source:
    masks = split_masks(dataset.names, splits_path)
    split = np.full(len(dataset.labels), "", dtype=object)
    for split_name, mask in masks.items():
        split[mask] = split_name
    return Source(name=name, images=dataset.images, labels=dataset.labels.astype(np.int64), names=dataset.names,
                  groups=groups, split=split.astype(str))


def brain_tumor_source(npz=config.NPZ_PATH, splits=config.SPLITS_PATH, dataset: Dataset | None = None) -> Source:
    """Source A, as `prepare` packed and split it; `dataset`, when already loaded from `npz`,
    is used as it is rather than read again."""
    dataset = load_npz(npz) if dataset is None else dataset
    return _with_split("brain-tumor", dataset, Path(splits), group_ids(dataset.names, dataset.duplicate_groups))


def extra_source(npz=EXTRA_NPZ_PATH, splits=EXTRA_SPLITS_PATH) -> Source:
    """Source B, as `prepare` packed and split it (run it with $BRAIN_TUMOR_EXTRA set)."""
    npz = Path(npz)
    if not npz.is_file():
        raise DataError(f"'{npz}' is missing; set ${EXTRA_ENV_VAR} and run `python -m braintumor prepare` "
                        f"(or `make data`). {HOW_TO_GET_EXTRA}")
    dataset = load_npz(npz)
    return _with_split("extra", dataset, Path(splits), extra_groups(dataset))


def lgg_source(npz=None, splits=None) -> Source:
    """Source C, the LGG FLAIR slices, as `prepare` packed and split them (run it with
    $BRAIN_TUMOR_LGG set); the group of a slice is its patient."""
    from .lgg import HOW_TO_GET_LGG, LGG_ENV_VAR, LGG_NPZ_PATH, LGG_SPLITS_PATH, patients_of

    npz, splits = Path(npz or LGG_NPZ_PATH), Path(splits or LGG_SPLITS_PATH)
    if not npz.is_file():
        raise DataError(f"'{npz}' is missing; set ${LGG_ENV_VAR} and run `python -m braintumor prepare` "
                        f"(or `make data`). {HOW_TO_GET_LGG}")
    dataset = load_npz(npz)
    groups = np.unique(patients_of(dataset.names), return_inverse=True)[1]
    return _with_split("lgg", dataset, splits, groups)


#: Source name -> loader of its prepared arrays. A fourth source adds a line here.
LOADERS = {"brain-tumor": brain_tumor_source, "extra": extra_source, "lgg": lgg_source}

#: Names shown in tables.
TITLES = {"brain-tumor": "A: Brain Tumor (BraTS slices, skull-stripped)",
          "extra": "B: Brain Tumor MRI Dataset (clinical, skull)",
          "lgg": "C: LGG FLAIR (TCGA-LGG, skull, both classes per patient)"}


def load_sources(names, loaded: dict[str, Source] | None = None) -> list[Source]:
    """The prepared sources, in the order named; those in `loaded` (name -> Source already
    in memory) are taken from there rather than read again."""
    unknown = [name for name in names if name not in LOADERS]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {sorted(LOADERS)}")
    loaded = loaded or {}
    return [loaded[name] if name in loaded else LOADERS[name]() for name in names]


def pooled(sources: list[Source], split_name: str | None = None) -> dict[str, np.ndarray]:
    """One split of several sources (every row when `split_name` is None), concatenated:
    images, labels, names ("source:name"), `source` (the index of each scan's source in
    `sources`) and `groups` (near-duplicate groups, kept apart between sources)."""
    parts, offset = [], 0
    for index, source in enumerate(sources):
        mask = np.ones(len(source.labels), bool) if split_name is None else source.split == split_name
        if split_name is not None and split_name not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES} or None, not {split_name!r}")
        parts.append({"images": source.images[mask], "labels": source.labels[mask],
                      "names": np.array([f"{source.name}:{n}" for n in source.names[mask]], dtype=str),
                      "source": np.full(int(mask.sum()), index), "groups": source.groups[mask] + offset})
        offset += int(source.groups.max(initial=-1)) + 1
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def balanced_weights(labels, source) -> np.ndarray:
    """Per-scan training weights under which, within each source, both classes weigh the same
    and the source keeps its total weight (its scan count).

    The extra source is 87% tumour; unweighted, 'comes from the extra source' would itself
    predict 'tumour'. With these weights neither class nor source membership does.
    """
    labels, source = np.asarray(labels), np.asarray(source)
    weights = np.zeros(len(labels), dtype=float)
    for s in np.unique(source):
        in_source = source == s
        present = np.unique(labels[in_source])
        for label in present:
            cell = in_source & (labels == label)
            weights[cell] = in_source.sum() / (len(present) * cell.sum())
    return weights


def capped(source: Source, caps: dict, seed: int) -> Source:
    """`source` with each split cut to its cap ({"train": n or None, "val": n or None}): a class-
    stratified sample (`splits.stratified_sample`, one generator seeded by `seed` for the splits
    in `caps`' order), through `Source.subset`. A split whose cap is None stays whole; a split
    missing from `caps` is dropped."""
    from .splits import stratified_sample

    rng = np.random.default_rng(seed)
    keep = np.zeros(len(source.labels), bool)
    for split_name, cap in caps.items():
        rows = np.flatnonzero(source.split == split_name)
        if cap is None or len(rows) <= cap:
            keep[rows] = True
        else:
            keep[stratified_sample(rows, source.labels[rows], cap, rng)] = True
    return source.subset(keep)


def scheduled_source(source: Source, schedule: str, seed: int = config.SEED) -> Source:
    """`source` as a schedule trains on it: whole for "full"; for "check", its train rows cut
    to a class-stratified sample of `splits.CHECK_TRAIN_ROWS` (validation and test rows whole),
    so that `make test` exercises the code path at a fraction of the cost. The same rows as
    `splits.scheduled_rows` takes from the train split's arrays."""
    from .splits import CHECK_TRAIN_ROWS

    if schedule == "full":
        return source
    if schedule != "check":
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    return capped(source, {"train": CHECK_TRAIN_ROWS, "val": None, "test": None}, seed)
