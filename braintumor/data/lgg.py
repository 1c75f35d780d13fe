"""The LGG source (LGG): axial FLAIR slices with a skull, both classes from the same patients.

The public Kaggle set "Brain MRI segmentation" (mateuszbuda/lgg-mri-segmentation; Buda et
al. 2019; TCGA-LGG via The Cancer Imaging Archive, CC BY-NC-SA 4.0), laid out as its
archive unpacks::

    kaggle_3m/TCGA_<site>_<patient>_<date>/TCGA_..._<n>.tif        slice n
    kaggle_3m/TCGA_<site>_<patient>_<date>/TCGA_..._<n>_mask.tif   its tumour mask (0 or 255)

A slice is labelled tumour when its mask holds any non-zero pixel. The picture is channel 1
(FLAIR) of an RGB file (the download stores pre-contrast T1, FLAIR, post-contrast T1), or a
grey file as it is; it is resized to 240x240 (bilinear, as `images.read_scan` resizes a
user's picture). Slices of one patient are near-neighbours of each other, so the patient is
the group: the split deals whole patients, site by site, so that each site and (since every
patient contributes both classes) each label is spread over the splits.

Slices without a tumour sit mostly at the top and bottom of each volume: the slice-level
shortcut of the main set exists here too, and `evaluation.shortcut` measures it the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from .. import config
from .dataset import DataError, Dataset, save_npz
from .splits import SPLIT_NAMES, write_splits

LGG_ENV_VAR = "BRAIN_TUMOR_LGG"
LGG_NPZ_PATH = Path("data/lgg_image_data.npz")
LGG_SPLITS_PATH = Path("data/lgg_splits.csv")

#: The sites of the shared copy, which the committed figures were computed on. The download
#: has a fifth; pass `sites` (or `--lgg-sites`) to choose.
COMMITTED_SITES = ("CS", "DU", "EZ", "FG")

#: A site with fewer patients than this goes to train whole: one patient cannot be split.
MIN_PATIENTS_TO_SPLIT = 3

HOW_TO_GET_LGG = (
    "Get the Kaggle dataset mateuszbuda/lgg-mri-segmentation "
    "(https://www.kaggle.com/datasets/mateuszbuda/lgg-mri-segmentation), unpack it and point "
    f"${LGG_ENV_VAR} at the folder that holds kaggle_3m/ (or at kaggle_3m/ itself); to reproduce the "
    f"committed figures keep the sites {', '.join(COMMITTED_SITES)} (the default)."
)

_SLICE = re.compile(r"^(TCGA_[A-Z0-9]+_[A-Z0-9]+_\d+)_(\d+)(_mask)?\.tif$")


def find_lgg_dir(lgg_dir=None) -> Path | None:
    """The LGG source's `kaggle_3m` folder: `lgg_dir`, else `$BRAIN_TUMOR_LGG`, else None (unused).

    The folder named may be `kaggle_3m/` itself or the one holding it. Raises `DataError`
    when one is named but holds no patient folder.
    """
    value = lgg_dir if lgg_dir is not None else os.environ.get(LGG_ENV_VAR)
    if not value:
        return None
    folder = Path(value)
    if (folder / "kaggle_3m").is_dir():
        folder = folder / "kaggle_3m"
    if not folder.is_dir():
        raise DataError(f"LGG source '{folder}' is not a folder; {HOW_TO_GET_LGG}")
    if not any(child.is_dir() and child.name.startswith("TCGA_") for child in folder.iterdir()):
        raise DataError(f"LGG source '{folder}' holds no TCGA_<site>_<patient>_<date>/ folder; {HOW_TO_GET_LGG}")
    return folder


def site_of(patient_folder: str) -> str:
    """The contributing site: the second token of `TCGA_<site>_<patient>_<date>`."""
    return patient_folder.split("_")[1]


def _read_tiff(path: Path, what: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode == "RGB":
                return np.asarray(image)[..., 1]  # FLAIR is channel 1 of the download's RGB files
            if image.mode in ("L", "1", "P"):
                return np.asarray(image.convert("L"))
            raise DataError(f"LGG {what} '{path}' has mode {image.mode}; expected RGB or 8-bit grey. "
                            f"Replace it with the file from the download.")
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 - PIL raises many types for broken files
        raise DataError(f"LGG {what} '{path}' cannot be read ({type(error).__name__}: {error}); "
                        f"replace it with the file from the download.") from None


def slice_pairs(folder: Path, sites=COMMITTED_SITES) -> list[tuple[str, int, Path, Path]]:
    """(patient, slice number, image, mask) for every slice of the chosen sites, sorted by
    patient and slice number. An image without its mask, or a mask without its image, raises
    `DataError` naming the file."""
    sites = None if sites is None else set(sites)
    pairs = []
    for patient_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("TCGA_")):
        if sites is not None and site_of(patient_dir.name) not in sites:
            continue
        images, masks = {}, {}
        for path in patient_dir.iterdir():
            match = _SLICE.match(path.name)
            if match is None:
                continue
            (masks if match.group(3) else images)[int(match.group(2))] = path
        for number in sorted(set(images) | set(masks)):
            if number not in masks:
                raise DataError(f"LGG image '{images[number]}' has no mask beside it "
                                f"('{images[number].stem}_mask.tif'); restore the mask or remove the image.")
            if number not in images:
                raise DataError(f"LGG mask '{masks[number]}' has no image beside it; restore the image or remove the mask.")
            pairs.append((patient_dir.name, number, images[number], masks[number]))
    if not pairs:
        raise DataError(f"LGG source '{folder}' holds no slice of the sites {sorted(sites or [])}; {HOW_TO_GET_LGG}")
    return pairs


def _to_model_size(picture: np.ndarray) -> np.ndarray:
    size = (config.IMAGE_SIZE, config.IMAGE_SIZE)
    grey = Image.fromarray(picture)
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)


def load_lgg_raw(folder, sites=COMMITTED_SITES) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """Read and validate every slice: (dataset, patient per slice, site per slice).

    Every file is checked before anything is returned: a mask must have its image's size and
    hold two values at most (0 and one other); an unreadable file is named with the fix.
    Names are `<patient>/<slice number>`.
    """
    images, labels, names, patients = [], [], [], []
    for patient, number, image_path, mask_path in slice_pairs(Path(folder), sites):
        picture, mask = _read_tiff(image_path, "image"), _read_tiff(mask_path, "mask")
        if mask.shape != picture.shape:
            raise DataError(f"LGG mask '{mask_path}' is {mask.shape[1]}x{mask.shape[0]} but its image is "
                            f"{picture.shape[1]}x{picture.shape[0]}; replace it with the download's mask.")
        values = np.unique(mask)
        if len(values) > 2 or (len(values) == 2 and values[0] != 0):
            raise DataError(f"LGG mask '{mask_path}' holds {len(values)} grey levels ({values[:5].tolist()}...); "
                            f"a mask is 0 outside the tumour and one value inside. Replace it with the download's mask.")
        images.append(_to_model_size(picture))
        labels.append(int(values.max() > 0))
        names.append(f"{patient}/{number}")
        patients.append(patient)
    dataset = Dataset(images=np.stack(images)[..., np.newaxis], labels=np.array(labels, dtype=np.uint8),
                      names=np.array(names), sha256=np.array([""] * len(names)))
    patients = np.array(patients)
    return dataset, patients, np.array([site_of(p) for p in patients])


def patient_split(patients, sites, labels, test_fraction: float = config.TEST_FRACTION,
                  val_fraction: float = config.VAL_FRACTION, seed: int = config.SEED) -> np.ndarray:
    """'train' | 'val' | 'test' per slice, whole patients at a time.

    Site by site, the site's patients are shuffled with `seed` and dealt to test until it holds
    `test_fraction` of the site's slices, then to validation, then the rest to train; within a
    site patients with a tumour share above and below the site's median alternate in the deal,
    so each split gets both kinds. A site with fewer than `MIN_PATIENTS_TO_SPLIT` patients goes
    to train whole.
    """
    patients, sites, labels = np.asarray(patients), np.asarray(sites), np.asarray(labels)
    rng = np.random.default_rng(seed)
    split = np.full(len(patients), "train", dtype=object)
    for site in sorted(set(sites.tolist())):
        in_site = sites == site
        site_patients = np.unique(patients[in_site])
        if len(site_patients) < MIN_PATIENTS_TO_SPLIT:
            continue
        share = np.array([labels[patients == p].mean() for p in site_patients])
        high = rng.permutation(site_patients[share >= np.median(share)]).tolist()
        low = rng.permutation(site_patients[share < np.median(share)]).tolist()
        order = [p for pair in zip(high, low) for p in pair] + high[len(low):] + low[len(high):]
        n_site = int(in_site.sum())
        targets = {"test": round(test_fraction * n_site), "val": round(val_fraction * n_site)}
        filled = {"test": 0, "val": 0}
        for patient in order:
            members = patients == patient
            for name in ("test", "val"):
                if filled[name] < targets[name]:
                    split[members] = name
                    filled[name] += int(members.sum())
                    break
    return split.astype(str)


def prepare_lgg(folder, out: Path = LGG_NPZ_PATH, splits_out: Path = LGG_SPLITS_PATH, sites=COMMITTED_SITES,
                seed: int = config.SEED) -> dict:
    """Validate the LGG source, pack it and split it by patient; return what was found.
    Nothing is written unless every file validated; each output goes to a temporary name first."""
    dataset, patients, slice_sites = load_lgg_raw(folder, sites)
    split = patient_split(patients, slice_sites, dataset.labels, seed=seed)
    save_npz(dataset, Path(out))
    write_splits(Path(splits_out), dataset.names, dataset.labels, split)
    return {
        "images": int(len(dataset.labels)),
        "class_counts": dataset.class_counts,
        "patients": int(len(set(patients.tolist()))),
        "sites": {site: int(len(set(patients[slice_sites == site].tolist()))) for site in sorted(set(slice_sites.tolist()))},
        "split_counts": {
            name: {config.CLASS_NAMES[k]: int(((split == name) & (dataset.labels == k)).sum()) for k in range(2)}
            for name in SPLIT_NAMES
        },
        "split_patients": {name: int(len(set(patients[split == name].tolist()))) for name in SPLIT_NAMES},
    }


def format_lgg_summary(summary: dict) -> str:
    counts = summary["class_counts"]
    return "\n".join([
        f"LGG source: {summary['images']} slices of {summary['patients']} patients; "
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + "; sites " + ", ".join(f"{site} {n}" for site, n in summary["sites"].items()),
        "  split by patient (no tumour / tumour, patients): "
        + ", ".join(f"{name} {c['no tumour']}/{c['tumour']} ({summary['split_patients'][name]})"
                    for name, c in summary["split_counts"].items()),
    ])


def patients_of(names) -> np.ndarray:
    """The patient of each packed slice name (`<patient>/<n>`)."""
    return np.array([str(name).split("/", 1)[0] for name in names])
