"""The LGG slices in their other two sequences: pre- and post-contrast T1 (extra/lgg-t1).

The same slices as the LGG FLAIR source (`data.lgg`), cut from the download's RGB TIFFs
(channel 0: pre-contrast T1, channel 2: post-contrast T1), registered to the FLAIR slice, at
128x128, laid out as::

    kaggle_3m/TCGA_<site>_<patient>_<date>/TCGA_..._<n>_t1pre.tif
    kaggle_3m/TCGA_<site>_<patient>_<date>/TCGA_..._<n>_t1post.tif

A slice's sequence is known here without any collection confound: three pictures of one slice,
differing only in sequence. `studies.scope` learns from them what a FLAIR-like picture is. Each
slice is resized to 240x240 (bilinear, as `images.read_scan` resizes a user's picture) and
takes the split of its FLAIR slice (`data/lgg_splits.csv`), so patients never straddle splits.
Point the project at it with $BRAIN_TUMOR_LGG_T1 (or put it at data/raw/lgg-t1/).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from .dataset import DataError

LGG_T1_ENV_VAR = "BRAIN_TUMOR_LGG_T1"
RAW_DIR = Path("data/raw/lgg-t1")
SEQUENCES = ("t1pre", "t1post")
HOW_TO_GET_LGG_T1 = (
    f"Point ${LGG_T1_ENV_VAR} at the folder that holds kaggle_3m/ with the TCGA_..._<n>_t1pre.tif and "
    "_t1post.tif slices (../shared/data/extra/lgg-t1 beside a clone), or cut channels 0 and 2 of the "
    "Kaggle download mateuszbuda/lgg-mri-segmentation into that layout."
)
_SLICE = re.compile(r"^(TCGA_[A-Z0-9]+_[A-Z0-9]+_\d+)_(\d+)_(t1pre|t1post)\.tif$")


@dataclass(frozen=True)
class T1Slices:
    """The T1 pictures, one row per (slice, sequence), in a fixed order."""

    images: np.ndarray  # (N, 240, 240, 1) uint8
    names: np.ndarray  # (N,) the FLAIR slice's packed name, `<patient>/<n>`
    sequence: np.ndarray  # (N,) 't1pre' | 't1post'
    labels: np.ndarray  # (N,) the FLAIR slice's tumour label
    split: np.ndarray  # (N,) its split
    site: np.ndarray  # (N,) its site


def find_lgg_t1_dir(folder=None) -> Path | None:
    """The `kaggle_3m` folder of the T1 slices: `folder`, else $BRAIN_TUMOR_LGG_T1, else
    data/raw/lgg-t1/ when it exists, else None. Raises `DataError` for a named folder without slices."""
    value = folder if folder is not None else os.environ.get(LGG_T1_ENV_VAR)
    if not value:
        if not (config.REPO_ROOT / RAW_DIR).is_dir():
            return None
        value = config.REPO_ROOT / RAW_DIR
    path = Path(value)
    if (path / "kaggle_3m").is_dir():
        path = path / "kaggle_3m"
    if not path.is_dir() or not any(child.is_dir() and child.name.startswith("TCGA_") for child in path.iterdir()):
        raise DataError(f"LGG T1 source '{path}' holds no TCGA_<site>_<patient>_<date>/ folder; {HOW_TO_GET_LGG_T1}")
    return path


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "I;16", "P", "RGB"):
                raise DataError(f"LGG T1 slice '{path}' has mode {image.mode}; expected 8-bit grey. "
                                f"Replace it with the shared copy's file.")
            grey = image.convert("L")
            if grey.size != (config.IMAGE_SIZE, config.IMAGE_SIZE):
                grey = grey.resize((config.IMAGE_SIZE, config.IMAGE_SIZE), Image.Resampling.BILINEAR)
            return np.asarray(grey, dtype=np.uint8)
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(f"LGG T1 slice '{path}' cannot be read ({type(error).__name__}: {error}); "
                        f"replace it with the shared copy's file.") from None


def load_lgg_t1(folder, splits_csv=None) -> T1Slices:
    """Every T1 slice whose FLAIR slice is in the packed LGG split (`data/lgg_splits.csv`, written
    by `python -m braintumor prepare`), with that slice's label, split and site. A T1 slice whose
    FLAIR slice is not in the split is an error naming it (the two copies do not match)."""
    splits_csv = Path(splits_csv or config.REPO_ROOT / "data/lgg_splits.csv")
    if not splits_csv.is_file():
        raise DataError(f"'{splits_csv}' is missing; run `python -m braintumor prepare` with $BRAIN_TUMOR_LGG set first")
    table = pd.read_csv(splits_csv).set_index("image")
    rows = []
    for patient_dir in sorted(p for p in Path(folder).iterdir() if p.is_dir() and p.name.startswith("TCGA_")):
        for path in sorted(patient_dir.iterdir()):
            match = _SLICE.match(path.name)
            if match is not None:
                rows.append((f"{match.group(1)}/{int(match.group(2))}", match.group(3), path))
    if not rows:
        raise DataError(f"LGG T1 source '{folder}' holds no TCGA_..._<n>_t1pre.tif or _t1post.tif; {HOW_TO_GET_LGG_T1}")
    unknown = [name for name, _, _ in rows if name not in table.index]
    if unknown:
        raise DataError(f"{len(unknown)} LGG T1 slices have no FLAIR slice in '{splits_csv}' (first: {unknown[0]}); "
                        f"prepare the LGG FLAIR source of the same sites first")
    names = np.array([name for name, _, _ in rows])
    return T1Slices(images=np.stack([_read(path) for _, _, path in rows])[..., np.newaxis], names=names,
                    sequence=np.array([sequence for _, sequence, _ in rows]),
                    labels=table.loc[names, "label"].to_numpy().astype(np.uint8),
                    split=table.loc[names, "split"].to_numpy().astype(str),
                    site=np.array([name.split("_")[1] for name in names]))
