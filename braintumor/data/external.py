"""Outside scans, for evaluation only: find them, read them, fingerprint them.

The folder named by `$BRAIN_TUMOR_EXTERNAL` holds one subfolder per class (`no/`, `yes/`,
`glioma/`, ...). Every image under a class folder, at any depth, is read with
`predict.read_scan`, the very conversion `braintumor predict` applies, so the notebook's
figures and the command's outputs agree. Nothing here trains or tunes on these scans:
each look at a model's score on them spends their value as unseen data.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config
from .images import ImageReadError, read_scan

EXTERNAL_ENV_VAR = "BRAIN_TUMOR_EXTERNAL"


#: Class folder name (lower case) -> label (0 no tumour, 1 tumour).
CLASS_FOLDER_LABELS = {
    "no": 0, "notumor": 0, "no_tumor": 0, "no tumour": 0, "healthy": 0,
    "yes": 1, "tumor": 1, "tumour": 1, "glioma": 1, "meningioma": 1, "pituitary": 1,
}


class ExternalDataError(ValueError):
    """The outside scans cannot be used; the message names the folder or file and the fix."""


@dataclass
class ExternalSet:
    """Outside scans in sorted name order: (N, 240, 240, 1) uint8 images and their labels."""

    images: np.ndarray
    labels: np.ndarray
    names: np.ndarray  # path relative to the folder, with '/'
    sha256: np.ndarray  # of each file's bytes

    @property
    def class_counts(self) -> dict[str, int]:
        return {name: int((self.labels == label).sum()) for label, name in enumerate(config.CLASS_NAMES)}


def _visible_subfolders(folder: Path) -> list[Path]:
    return sorted(child for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))


def find_external_dir() -> Path | None:
    """The outside-scan folder from `$BRAIN_TUMOR_EXTERNAL`, or None when it is unset.

    Raises `ExternalDataError` when it is set but is not a folder or holds no class
    folder: a typo should fail loudly rather than silently skip the evaluation.
    """
    value = os.environ.get(EXTERNAL_ENV_VAR)
    if not value:
        return None
    folder = Path(value)
    fix = (f"point ${EXTERNAL_ENV_VAR} at a folder with one subfolder per class "
           f"(e.g. no/ and yes/), or unset it to skip the outside scans")
    if not folder.is_dir():
        raise ExternalDataError(f"${EXTERNAL_ENV_VAR}='{folder}' is not a folder; {fix}.")
    if not _visible_subfolders(folder):
        raise ExternalDataError(f"${EXTERNAL_ENV_VAR}='{folder}' holds no class folders; {fix}.")
    return folder


def class_folders(folder) -> list[tuple[Path, int]]:
    """(class folder, label) for each visible subfolder of `folder`, sorted by name.

    Raises `ExternalDataError` for a folder name not in `CLASS_FOLDER_LABELS` (matched
    case-insensitively), or when there is no class folder at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ExternalDataError(f"'{folder}' is not a folder.")
    result = []
    for child in _visible_subfolders(folder):
        label = CLASS_FOLDER_LABELS.get(child.name.lower())
        if label is None:
            accepted = ", ".join(f"'{name}'" for name in CLASS_FOLDER_LABELS)
            raise ExternalDataError(
                f"'{child}': unknown class folder '{child.name}'; rename it to one of {accepted} "
                f"(case does not matter) or move it out of '{folder}'."
            )
        result.append((child, label))
    if not result:
        raise ExternalDataError(f"'{folder}' holds no class folders (e.g. no/ and yes/).")
    return result


def _image_files(class_folder: Path) -> list[Path]:
    """Image files at any depth under `class_folder`, skipping hidden files and folders."""
    return [
        path for path in class_folder.rglob("*")
        if path.is_file() and path.suffix.lower() in config.IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(class_folder).parts)
    ]


def load_external(folder) -> ExternalSet:
    """Read every image under `folder`'s class folders, sorted by relative path.

    Each file's bytes are hashed and decoded once (`predict.read_scan`: grey, bilinear
    resize to 240x240). Raises `ExternalDataError` naming the file that does not decode, or
    a class folder that holds no image.
    """
    folder = Path(folder)
    entries = []
    for class_folder, label in class_folders(folder):
        files = _image_files(class_folder)
        if not files:
            raise ExternalDataError(
                f"class folder '{class_folder}' holds no image ({', '.join(sorted(config.IMAGE_SUFFIXES))}); "
                f"add its scans or remove it."
            )
        entries.extend((path.relative_to(folder).as_posix(), path, label) for path in files)
    entries.sort(key=lambda entry: entry[0])
    images, hashes = [], []
    for name, path, _ in entries:
        data = path.read_bytes()
        try:
            images.append(read_scan(io.BytesIO(data)))
        except ImageReadError as error:
            raise ExternalDataError(f"'{path}': {error}; fix or remove that file.") from None
        hashes.append(hashlib.sha256(data).hexdigest())
    size = config.IMAGE_SIZE
    return ExternalSet(
        images=np.stack(images)[..., None] if images else np.empty((0, size, size, 1), np.uint8),
        labels=np.array([label for _, _, label in entries], dtype=np.int64),
        names=np.array([name for name, _, _ in entries], dtype=str),
        sha256=np.array(hashes, dtype=str),
    )


def fingerprint(sha256s) -> str:
    """One SHA-256 over the sorted file hashes: equal for the same files, in any order.

    Lets the notebook print whether the scans it scored are the shared copy's.
    """
    digest = hashlib.sha256()
    for file_hash in sorted(str(h) for h in sha256s):
        digest.update(f"{file_hash}\n".encode())
    return digest.hexdigest()
