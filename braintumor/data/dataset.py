"""Find, validate and pack the raw Kaggle "Brain Tumor" dataset.

The raw folder is never written to. `prepare` reads it, checks every row and every image,
and only then writes `data/image_data.npz` (to a temporary name, renamed at the end), so a
bad dataset never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import config
from ..files import atomic_write

HOW_TO_GET_DATA = (
    "Get the Kaggle dataset jakeshbohaju/brain-tumor, either from "
    "https://www.kaggle.com/datasets/jakeshbohaju/brain-tumor (Download, then unzip) or with "
    "`python -c \"import kagglehub; print(kagglehub.dataset_download('jakeshbohaju/brain-tumor'))\"` "
    "(needs kagglehub and internet), then point BRAIN_TUMOR_DATA at the unpacked folder "
    "(the one holding 'Brain Tumor.csv') or move its contents to data/raw/."
)


class DataError(Exception):
    """The raw dataset is missing or invalid; the message names the file or row and the fix."""


# --------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------


def _looks_like_dataset(folder: Path) -> bool:
    return (folder / config.LABELS_CSV).is_file()


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the raw dataset folder.

    Order: the explicit `data_dir`, else `$BRAIN_TUMOR_DATA`, else `data/raw/`. Raises
    `DataError` naming every place that was tried and how to get the data.
    """
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise DataError(f"data folder '{folder}' does not exist. {HOW_TO_GET_DATA}")
        if not _looks_like_dataset(folder):
            raise DataError(
                f"data folder '{folder}' holds no '{config.LABELS_CSV}'. {HOW_TO_GET_DATA}"
            )
        return folder

    tried = []
    env_value = os.environ.get(config.DATA_ENV_VAR)
    if env_value:
        folder = Path(env_value)
        if _looks_like_dataset(folder):
            return folder
        tried.append(f"${config.DATA_ENV_VAR}='{folder}' (no '{config.LABELS_CSV}' there)")
    else:
        tried.append(f"${config.DATA_ENV_VAR} (not set)")
    folder = config.DEFAULT_RAW_DIR
    if _looks_like_dataset(folder):
        return folder
    tried.append(f"'{folder}/' (no '{config.LABELS_CSV}' there)")
    raise DataError("raw dataset not found; looked in " + " and ".join(tried) + ". " + HOW_TO_GET_DATA)


# --------------------------------------------------------------------------------------
# Reading and validating
# --------------------------------------------------------------------------------------


@dataclass
class LabelRow:
    name: str  # e.g. "Image17", as in the CSV column Image
    label: int
    line: int  # line number in the CSV file, header = line 1


def parse_label(cell: str | None, where: str) -> int:
    """One Class cell, read as text and judged on its own: 0 or 1, else `DataError`.

    `1.0` and `0.0` are accepted (a spreadsheet that saved the column as numbers writes
    them so); anything that is not an integer-valued 0 or 1 (`0.5`, `yes`, `2`) is refused.
    `where` names the row for the message, e.g. "'Brain Tumor.csv' line 45 (Image44)".
    """
    text = (cell or "").strip()
    fix = "correct the Class column of that row (0 no tumour, 1 tumour)."
    if not text:
        raise DataError(f"{where}: the label is missing; {fix}")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in (0.0, 1.0):
        raise DataError(f"{where}: label {text!r} is not 0 (no tumour) or 1 (tumour); {fix}")
    return int(value)


def read_labels(csv_path: Path) -> list[LabelRow]:
    """Read `Brain Tumor.csv`: columns `Image` and `Class` (0 no tumour, 1 tumour)."""
    if not csv_path.is_file():
        raise DataError(f"label file '{csv_path}' is missing. {HOW_TO_GET_DATA}")
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"Image", "Class"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(
                f"'{csv_path}' lacks the column(s) {sorted(missing)}; expected the Kaggle "
                f"'{config.LABELS_CSV}' with columns Image and Class."
            )
        rows: list[LabelRow] = []
        seen: dict[str, int] = {}
        for line, record in enumerate(reader, start=2):
            name = (record["Image"] or "").strip()
            if not name:
                raise DataError(f"'{csv_path}' line {line}: empty Image name; fix or delete that row.")
            if name in seen:
                raise DataError(
                    f"'{csv_path}' line {line}: image '{name}' is listed again (first at line "
                    f"{seen[name]}); keep one row per image."
                )
            seen[name] = line
            label = parse_label(record["Class"], f"'{csv_path}' line {line} ({name})")
            rows.append(LabelRow(name=name, label=label, line=line))
    if not rows:
        raise DataError(f"'{csv_path}' has no rows.")
    return rows


def list_images(image_dir: Path) -> dict[str, Path]:
    """Map image stem ('Image17') to its file, for every image file in `image_dir`."""
    if not image_dir.is_dir():
        raise DataError(
            f"image folder '{image_dir}' is missing; the Kaggle archive unpacks its JPEGs into "
            f"'{config.IMAGE_SUBDIR}/'. {HOW_TO_GET_DATA}"
        )
    files: dict[str, Path] = {}
    for path in sorted(image_dir.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in config.IMAGE_SUFFIXES:
            continue
        if path.stem in files:
            raise DataError(f"'{path}' and '{files[path.stem]}' share the name {path.stem}; keep one.")
        files[path.stem] = path
    return files


def decode_grey(path: Path, data: bytes, size: int = config.IMAGE_SIZE) -> np.ndarray:
    """Decode one dataset image to a (size, size) uint8 grey array, or raise `DataError`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mode = image.mode
            if image.size != (size, size):
                raise DataError(
                    f"'{path}' is {image.size[0]}x{image.size[1]}, expected {size}x{size}; "
                    f"every scan of this dataset is {size}x{size}, so the file is not the Kaggle "
                    f"original: re-download it."
                )
            if mode in {"L", "P", "1", "I;16", "I", "LA"}:
                grey = np.asarray(image.convert("L"))
            elif mode in {"RGB", "RGBA", "CMYK", "YCbCr"}:
                rgb = np.asarray(image.convert("RGB"))
                # The dataset stores grey scans as RGB with three identical channels; a real
                # colour image would lose information here, so refuse it.
                if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
                    raise DataError(
                        f"'{path}' has colour (its RGB channels differ); the dataset's scans are "
                        f"grey: re-download the original file."
                    )
                grey = rgb[..., 0]
            else:
                raise DataError(f"'{path}' has the unsupported image mode {mode}; re-download it.")
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(f"'{path}' cannot be decoded ({error}); the file is corrupt: re-download it.") from error
    return np.ascontiguousarray(grey, dtype=np.uint8)


@dataclass
class Dataset:
    images: np.ndarray  # (N, 240, 240, 1) uint8, CSV order
    labels: np.ndarray  # (N,) uint8, 0 no tumour, 1 tumour
    names: np.ndarray  # (N,) str, e.g. "Image17"
    sha256: np.ndarray  # (N,) str, hash of the raw file bytes
    duplicate_groups: list[list[str]] = field(default_factory=list)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=2)
        return {config.CLASS_NAMES[k]: int(counts[k]) for k in range(2)}


def load_raw(data_dir: Path) -> Dataset:
    """Read and validate the raw Kaggle folder; raise `DataError` on the first problem."""
    rows = read_labels(data_dir / config.LABELS_CSV)
    files = list_images(data_dir / config.IMAGE_SUBDIR)

    rows_without_image = [row for row in rows if row.name not in files]
    if rows_without_image:
        row = rows_without_image[0]
        raise DataError(
            f"'{data_dir / config.LABELS_CSV}' line {row.line} names image '{row.name}', but "
            f"'{data_dir / config.IMAGE_SUBDIR / (row.name + '.jpg')}' does not exist "
            f"({len(rows_without_image)} such row(s)); restore the image or delete the row."
        )
    listed = {row.name for row in rows}
    images_without_row = [path for stem, path in files.items() if stem not in listed]
    if images_without_row:
        raise DataError(
            f"'{images_without_row[0]}' has no row in '{data_dir / config.LABELS_CSV}' "
            f"({len(images_without_row)} such image(s)); add its label or remove the file."
        )

    n = len(rows)
    images = np.empty((n, config.IMAGE_SIZE, config.IMAGE_SIZE, 1), dtype=np.uint8)
    hashes = []
    for index, row in enumerate(rows):
        path = files[row.name]
        data = path.read_bytes()
        hashes.append(hashlib.sha256(data).hexdigest())
        images[index, :, :, 0] = decode_grey(path, data)

    labels = np.array([row.label for row in rows], dtype=np.uint8)
    names = np.array([row.name for row in rows])
    sha256 = np.array(hashes)
    groups = exact_duplicate_groups(names, sha256)
    by_name = dict(zip(names.tolist(), labels.tolist()))
    for group in groups:
        if len({by_name[name] for name in group}) > 1:
            raise DataError(
                f"images {group} are byte-identical but labelled differently in "
                f"'{data_dir / config.LABELS_CSV}'; fix the Class of one of them."
            )
    return Dataset(images=images, labels=labels, names=names, sha256=sha256, duplicate_groups=groups)


def grey_stack(images) -> np.ndarray:
    """Scans as (N, H, W): drops the trailing channel of (N, H, W, 1); anything else unchanged."""
    images = np.asarray(images)
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


#: Grey level above which a pixel counts as head rather than background (the scans have
#: a black background; the skull and brain are far brighter than this).
HEAD_GREY_LEVEL = 20


def head_mask(images) -> np.ndarray:
    """Boolean (N, 240, 240): pixels brighter than the black background."""
    images = grey_stack(images)
    return images > HEAD_GREY_LEVEL


def border_mask(side: int | tuple[int, int], width: int) -> np.ndarray:
    """Boolean picture (`side` or (height, width)): True on the outermost `width` pixels."""
    height, breadth = (side, side) if isinstance(side, int) else side
    if not 0 < 2 * width <= min(height, breadth):
        raise ValueError(f"border width {width} does not fit a {height}x{breadth} picture")
    mask = np.ones((height, breadth), dtype=bool)
    mask[width:height - width, width:breadth - width] = False
    return mask


def exact_duplicate_groups(names, sha256) -> list[list[str]]:
    """Groups (of two or more names) whose files are byte-identical, in CSV order."""
    by_hash: dict[str, list[str]] = defaultdict(list)
    for name, digest in zip(names, sha256):
        by_hash[str(digest)].append(str(name))
    return [group for group in by_hash.values() if len(group) > 1]


def dataset_fingerprint(sha256, labels) -> str:
    """One SHA-256 over every image hash and label, in CSV order: the data's checksum."""
    digest = hashlib.sha256()
    for image_hash, label in zip(sha256, labels):
        digest.update(f"{image_hash}:{int(label)}\n".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Writing and reading the packed arrays
# --------------------------------------------------------------------------------------


def save_npz(dataset: Dataset, path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                images=dataset.images,
                labels=dataset.labels,
                names=dataset.names,
                sha256=dataset.sha256,
            )

    atomic_write(path, write)


def load_npz(path: str | os.PathLike = config.NPZ_PATH) -> Dataset:
    """Load the packed arrays (no pickles); tell how to rebuild them when missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"'{path}' is missing; build it with `python -m braintumor prepare` (or `make data`).")
    with np.load(path, allow_pickle=False) as packed:
        dataset = Dataset(
            images=packed["images"],
            labels=packed["labels"],
            names=packed["names"],
            sha256=packed["sha256"],
        )
    dataset.duplicate_groups = exact_duplicate_groups(dataset.names, dataset.sha256)
    return dataset


def summarize(dataset: Dataset) -> dict:
    """The facts `prepare` reports: counts, class balance, shape, duplicates, checksum."""
    in_groups = sum(len(group) for group in dataset.duplicate_groups)
    return {
        "images": int(len(dataset.labels)),
        "shape": list(dataset.images.shape),
        "dtype": str(dataset.images.dtype),
        "class_counts": dataset.class_counts,
        "duplicate_groups": len(dataset.duplicate_groups),
        "images_in_duplicate_groups": in_groups,
        "largest_duplicate_group": max((len(g) for g in dataset.duplicate_groups), default=1),
        "redundant_copies": in_groups - len(dataset.duplicate_groups),
        "fingerprint": dataset_fingerprint(dataset.sha256, dataset.labels),
    }
