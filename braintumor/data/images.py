"""Reading one picture file as the model's input: 240x240 grey, uint8 0..255.

The one conversion every path into the model shares: `braintumor predict` applies it to a
user's file, and the extra source and the outside scans are packed through it, so training
and prediction see a picture the same way. The rule (8-bit pictures as they are, pictures of
more than 8 bits by their own percentiles, as a DICOM slice without a window) is stated in
docs/predict.md, "How a scan becomes the model's picture"; this module applies it.
"""

from __future__ import annotations

import contextlib

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import config

#: PIL modes of more than 8 bits a pixel (16-bit grey, 32-bit integer, 32-bit float).
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


class ImageReadError(Exception):
    """One input file cannot be used as a scan; the message says why."""


def _to_grey(image: Image.Image) -> Image.Image:
    """The picture as 8-bit grey. More than 8 bits a pixel (a 16-bit PNG of MR values, which
    carries no display window): its `PERCENTILES` map to 0 and 255, as a DICOM slice without
    a window, so 0..2145 MR values fill the grey range instead of its darkest 9 levels."""
    if image.mode in _WIDE_MODES:
        values = np.asarray(image, dtype=np.float64)
        values = np.where(np.isfinite(values), values, 0.0)
        return Image.fromarray(linear_to_grey(values, *percentile_range(values)))
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        # Transparent parts carry no tissue: show them as the black background of a scan.
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")
    return image.convert("L")


def to_model_size(grey: np.ndarray) -> np.ndarray:
    """A 2D uint8 grey picture as the model's input: (240, 240), resized bilinearly as
    `read_scan` resizes a picture file (the same PIL call), so a DICOM or NIfTI slice of
    another size is seen as the same slice saved as a PNG would be."""
    size = (config.IMAGE_SIZE, config.IMAGE_SIZE)
    image = Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8))
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def read_scan(path) -> np.ndarray:
    """Read one image file as the model's input: (240, 240) uint8 grey, bilinear resize.

    Raises `ImageReadError` with a readable reason for missing, non-image or corrupt files.
    """
    size = (config.IMAGE_SIZE, config.IMAGE_SIZE)
    with read_errors("an image", "corrupt or unreadable image",
                     known={UnidentifiedImageError: "not an image (unknown or unsupported format)"}):
        with Image.open(path) as image:
            image.load()
            grey = _to_grey(image)
        if grey.size != size:
            grey = grey.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(grey, dtype=np.uint8)


@contextlib.contextmanager
def read_errors(what: str, unreadable: str, known: dict | None = None, hint: str = ""):
    """Turn what opening one file can raise into an `ImageReadError` whose line says why: a
    missing file, a folder, no permission, a library's own error types in `known` (type ->
    message), and anything else (libraries raise many types for broken files) as `unreadable`
    with the error and `hint`. Shared by the picture, DICOM and NIfTI readers."""
    try:
        yield
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError("no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"is a folder, not {what}") from None
    except PermissionError:
        raise ImageReadError("permission denied") from None
    except Exception as error:  # noqa: BLE001
        for kind, message in (known or {}).items():
            if isinstance(error, kind):
                raise ImageReadError(message) from None
        raise ImageReadError(f"{unreadable} ({type(error).__name__}: {error}){hint}") from None


#: Percentiles of a volume's (or series') values mapped to grey 0 and 255 when the file
#: says nothing about how to show it (no DICOM window; NIfTI never does): 0.5th and 99.5th,
#: so a few very bright or dark voxels (vessels, artefacts) do not squeeze the head's range.
PERCENTILES = (0.5, 99.5)


def percentile_range(values) -> tuple[float, float]:
    """(low, high): the `PERCENTILES` of all `values` (an array or a list of arrays)."""
    flat = np.concatenate([np.ravel(v) for v in values]) if isinstance(values, list) else np.ravel(values)
    low, high = np.percentile(flat.astype(np.float64), PERCENTILES)
    return float(low), float(high)


def linear_to_grey(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """uint8 grey: `low` and below -> 0, `high` and above -> 255, linear between, rounded to
    the nearest level. (With low 0 and high 255 an 8-bit picture keeps its exact levels.)
    A flat range (high <= low) gives 0 at or below `low` and 255 above it."""
    values = np.asarray(values, dtype=np.float64)
    if high <= low:
        return np.where(values > low, 255, 0).astype(np.uint8)
    return np.clip(np.rint((values - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)
