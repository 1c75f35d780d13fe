"""DICOM files and series as the model's input: each MR image one 240x240 grey slice.

How a DICOM image becomes a scan (the rule `predict --help` and the README state):

1. Pixel values go through the modality transform (Rescale Slope and Intercept, or a
   Modality LUT: pydicom's `apply_modality_lut`).
2. Intensity to grey 0..255: with the file's Window Center and Width (the first pair when
   there are several) the linear window of DICOM PS3.3 C.11.2.1.2 (LINEAR_EXACT and SIGMOID
   when VOILUTFunction says so); without them, the 0.5th-99.5th percentiles of the whole
   series (every file of the series, after step 1) map linearly to 0 and 255.
3. MONOCHROME1 (low values bright) is inverted (grey -> 255 - grey), so every slice shows
   tissue as MONOCHROME2 does; rounded to whole grey levels.
4. Resized to 240x240 bilinearly, as `images.read_scan` resizes a picture; rows and columns
   as stored (the orientation a DICOM viewer shows), pixel spacing not used.

A series is the files sharing a SeriesInstanceUID (a file without one is a series of its
own), ordered along the slice normal: ImagePositionPatient . (row x column direction of
ImageOrientationPatient), lowest first (for an axial series, k = 0 is the inferior end);
where any file lacks a position, by InstanceNumber, then file name.

A file that cannot be used becomes one error line naming it and the fix, and the other
files go on: not DICOM, no pixel data, a non-MR modality, multi-frame, colour, a
compressed transfer syntax with no installed decoder, undecodable pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import ImageReadError, linear_to_grey, percentile_range, read_errors, to_model_size

#: The fix for a multi-frame (enhanced) file, a compressed one, and a non-DICOM file.
MULTIFRAME_FIX = ("convert it to single-frame files or to a NIfTI volume (e.g. `dcm2niix -z y <folder>`; "
                  "predict reads .nii.gz)")
DECOMPRESS_FIX = "or decompress the file first (e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg in.dcm out.dcm`)"


@dataclass
class DicomHeader:
    """What grouping and ordering need of one file (read without its pixel data)."""

    path: Path
    series_uid: str | None
    position: float | None  # along the slice normal, in mm; None when position or orientation is missing
    instance: int | None


@dataclass
class DicomSlice:
    """One usable image: its values after the modality transform, and how to show them."""

    path: Path
    values: np.ndarray  # float64, rows x columns
    window: tuple[float, float, str] | None  # (center, width, VOI LUT function) from the file
    monochrome1: bool


@dataclass
class DicomSeries:
    """A series read for scoring: its slices in order (path, 240x240 uint8) and the files
    that could not be used (path, reason), in the order met."""

    uid: str | None
    slices: list[tuple[Path, np.ndarray]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def _floats(value, count: int) -> list[float] | None:
    """`count` numbers from a DICOM multi-value (IPP, IOP), or None if missing or malformed."""
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(n) for n in numbers) else None


def slice_position(dataset) -> float | None:
    """ImagePositionPatient . normal, the normal = row direction x column direction of
    ImageOrientationPatient; None when either tag is missing or malformed."""
    position = _floats(dataset.get("ImagePositionPatient"), 3)
    orientation = _floats(dataset.get("ImageOrientationPatient"), 6)
    if position is None or orientation is None:
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(position, normal))


def _instance_number(dataset) -> int | None:
    try:
        return int(dataset.get("InstanceNumber"))
    except (TypeError, ValueError):
        return None


def read_header(path: Path) -> DicomHeader:
    """Series, position and instance number of one file; `ImageReadError` if it is no DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    not_dicom = ("not a DICOM file (no 'DICM' marker after the 128-byte preamble); "
                 "give DICOM Part 10 files, or a picture / NIfTI file")
    with read_errors("a DICOM file", "corrupt or unreadable DICOM file", known={InvalidDicomError: not_dicom}):
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    uid = dataset.get("SeriesInstanceUID")
    return DicomHeader(Path(path), str(uid) if uid else None, slice_position(dataset), _instance_number(dataset))


def order_series(headers: list[DicomHeader]) -> list[DicomHeader]:
    """The files of one series in slice order: by position along the normal when every file
    has one (ties: instance number, then name), else by InstanceNumber (missing last), then name."""
    if headers and all(header.position is not None for header in headers):
        return sorted(headers, key=lambda h: (h.position, h.instance if h.instance is not None else 0, h.path.name))
    return sorted(headers, key=lambda h: (h.instance is None, h.instance or 0, str(h.path)))


def group_series(headers: list[DicomHeader]) -> list[list[DicomHeader]]:
    """Headers grouped by SeriesInstanceUID (first-met order), each group in slice order; a
    file without a SeriesInstanceUID is a series of its own."""
    groups: dict[object, list[DicomHeader]] = {}
    for header in headers:
        groups.setdefault(header.series_uid or ("no series uid", header.path), []).append(header)
    return [order_series(group) for group in groups.values()]


def _first_number(value) -> float:
    """A DICOM number, or the first of a multi-value one (several windows: the first)."""
    if not isinstance(value, (str, bytes, int, float)):
        value = value[0]
    return float(value)


def _window(dataset) -> tuple[float, float, str] | None:
    """(center, width, function) of the file's first VOI window, or None when absent or unusable."""
    center, width = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    if center is None or width is None:
        return None
    try:
        center, width = _first_number(center), _first_number(width)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(dataset.get("VOILUTFunction") or "LINEAR").upper()
    if not (math.isfinite(center) and math.isfinite(width)) or width <= 0 or (function == "LINEAR" and width < 1):
        return None
    return center, width, function


def apply_window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """Grey 0..255 (float) from modality values by a VOI window, per DICOM PS3.3 C.11.2.1.2:

    LINEAR: x <= c - 0.5 - (w-1)/2 -> 0; x > c - 0.5 + (w-1)/2 -> 255; else
    ((x - (c - 0.5)) / (w - 1) + 0.5) * 255. (Center 128, width 256 maps 0..255 to itself.)
    LINEAR_EXACT: (x - c) / w + 0.5, clipped to 0..1, times 255. SIGMOID: 255 / (1 + exp(-4 (x - c) / w)).
    """
    values = np.asarray(values, dtype=np.float64)
    if function == "SIGMOID":
        return 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0) * 255.0
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    inside = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0 if width > 1 else np.zeros_like(values)
    return np.where(values <= low, 0.0, np.where(values > high, 255.0, inside))


def _decoder_problem(dataset) -> str | None:
    """Why the pixel data cannot be decoded here (a compressed transfer syntax with no
    installed decoder), with the fix; None when it can be tried."""
    from pydicom.pixels import get_decoder

    syntax = dataset.file_meta.get("TransferSyntaxUID") if hasattr(dataset, "file_meta") else None
    if syntax is None or not syntax.is_compressed:
        return None
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return f"compressed as {syntax.name} ({syntax}), which pydicom cannot decode; {DECOMPRESS_FIX}"
    if decoder.is_available:
        return None
    needs = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
    return (f"compressed as {syntax.name} ({syntax}) and no installed decoder reads it; install one "
            f"({needs}), {DECOMPRESS_FIX}")


def read_slice(path: Path) -> DicomSlice:
    """One file's image: checked, decoded and through the modality transform.

    Raises `ImageReadError` with the reason and the fix for every file it cannot use.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut

    try:
        dataset = pydicom.dcmread(path)
    except InvalidDicomError:
        raise ImageReadError("not a DICOM file (no 'DICM' marker after the 128-byte preamble); "
                             "give DICOM Part 10 files, or a picture / NIfTI file") from None
    except Exception as error:  # noqa: BLE001
        raise ImageReadError(f"corrupt or unreadable DICOM file ({type(error).__name__}: {error})") from None
    modality = str(dataset.get("Modality") or "")
    if modality and modality != "MR":
        raise ImageReadError(f"modality {modality}, not MR: the model was trained on MR slices only; "
                             "give the MR series")
    if "PixelData" not in dataset:
        kind = dataset.get("SOPClassUID")
        kind = f" ({kind.name})" if kind is not None and hasattr(kind, "name") else ""
        raise ImageReadError(f"holds no pixel data{kind}: not an image (a DICOMDIR, report or presentation "
                             "state?); give the series' image files")
    frames = dataset.get("NumberOfFrames")
    try:
        frames = int(frames) if frames is not None else 1
    except (TypeError, ValueError):
        frames = 1
    if frames > 1:
        raise ImageReadError(f"multi-frame file ({frames} frames in one file) is not read; {MULTIFRAME_FIX}")
    samples = int(dataset.get("SamplesPerPixel") or 1)
    photometric = str(dataset.get("PhotometricInterpretation") or "MONOCHROME2").upper()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImageReadError(f"colour image ({photometric}, {samples} samples a pixel), not a grey MR slice; "
                             "give MONOCHROME1/MONOCHROME2 images")
    problem = _decoder_problem(dataset)
    if problem:
        raise ImageReadError(problem)
    try:
        pixels = dataset.pixel_array
        values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    except Exception as error:  # noqa: BLE001 - decoders raise many types
        raise ImageReadError(f"cannot decode the pixel data ({type(error).__name__}: {error}); {DECOMPRESS_FIX}") from None
    if values.ndim != 2:
        raise ImageReadError(f"pixel data shaped {values.shape}, not one 2D image; {MULTIFRAME_FIX}")
    return DicomSlice(Path(path), values, _window(dataset), photometric == "MONOCHROME1")


def to_grey(item: DicomSlice, series_range: tuple[float, float] | None) -> np.ndarray:
    """One slice as the model sees it (240x240 uint8): its window, else the series'
    percentile range; MONOCHROME1 inverted; resized."""
    if item.window is not None:
        grey = np.clip(np.rint(apply_window(item.values, *item.window)), 0, 255).astype(np.uint8)
    else:
        grey = linear_to_grey(item.values, *series_range)
    if item.monochrome1:
        grey = 255 - grey
    return to_model_size(grey)


def read_series(headers: list[DicomHeader]) -> DicomSeries:
    """Read the files of one series (in the order given, `order_series`'s) as scans.

    Files that fail become `errors`; the others are the slices, numbered in order from 0.
    """
    series = DicomSeries(uid=headers[0].series_uid if headers else None)
    usable: list[DicomSlice] = []
    for header in headers:
        try:
            usable.append(read_slice(header.path))
        except ImageReadError as error:
            series.errors.append((header.path, str(error)))
    without_window = [item.values for item in usable if item.window is None]
    series_range = percentile_range(without_window) if without_window else None
    series.slices = [(item.path, to_grey(item, series_range)) for item in usable]
    return series
