"""DICOM files and series as the model's input: each axial MR image one 240x240 grey slice.

The rule (modality transform, the file's VOI LUT or window or else the series' percentiles,
MONOCHROME1, grouping by series and orientation, order from the inferior end, duplicates, what
is refused) is stated once, in docs/predict.md ("How a scan becomes the model's picture"),
rendered from `reports/templates/predict.md.j2`; this module applies it.

A file that cannot be used becomes one error line naming it and the fix, and the other
files go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sequence import sequence_of
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
    sop_uid: str | None = None  # SOPInstanceUID: copies of one image share it
    orientation: tuple[float, ...] | None = None  # ImageOrientationPatient, rounded (grouping key)
    directory: bool = False  # a DICOMDIR: the index of a disc, no image
    sequence: str | None = None  # the MR sequence its fields name (`sequence.sequence_of`)


@dataclass
class SeriesGroup:
    """The files of one series in one orientation, in slice order; `note` when the series
    was split (several orientations in one SeriesInstanceUID)."""

    headers: list[DicomHeader]
    note: str | None = None

    @property
    def uid(self) -> str | None:
        return self.headers[0].series_uid if self.headers else None

    @property
    def plane(self) -> str | None:
        """"axial", "coronal" or "sagittal" by the slice normal's main axis; None without orientation."""
        orientation = next((header.orientation for header in self.headers if header.orientation), None)
        return None if orientation is None else plane_of(orientation)


@dataclass
class DicomSlice:
    """One usable image: its values after the modality transform, and how to show them."""

    path: Path
    values: np.ndarray  # float64, rows x columns
    voi: np.ndarray | None  # uint8 grey by the file's VOI LUT or window (`voi_grey`, rounded); None without one
    monochrome1: bool


@dataclass
class DicomSeries:
    """A series read for scoring: its slices in order (path, 240x240 uint8) and the files
    that could not be used (path, reason), in the order met."""

    uid: str | None
    slices: list[tuple[Path, np.ndarray]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # copies of an image already read
    note: str | None = None
    sequence: str | None = None  # the MR sequence its files' fields name (`sequence.sequence_of`)


def _floats(value, count: int) -> list[float] | None:
    """`count` numbers from a DICOM multi-value (IPP, IOP), or None if missing or malformed."""
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(n) for n in numbers) else None


#: The patient axis (DICOM LPS: x right->left, y anterior->posterior, z inferior->superior)
#: along which a slice normal mainly points, and what that makes the series.
PLANES = ("sagittal", "coronal", "axial")


def slice_normal(orientation) -> np.ndarray:
    """Row direction x column direction of ImageOrientationPatient, signed so that its main
    component is positive: for an axial series it points superior, so positions along it
    grow from the inferior end whichever way the rows and columns run."""
    normal = np.cross(orientation[:3], orientation[3:])
    return normal if normal[np.argmax(np.abs(normal))] > 0 else -normal


def plane_of(orientation) -> str:
    """The plane of slices with this ImageOrientationPatient: `PLANES` by the normal's main axis."""
    return PLANES[int(np.argmax(np.abs(slice_normal(orientation))))]


def slice_position(dataset) -> float | None:
    """ImagePositionPatient . `slice_normal`; None when either tag is missing or malformed."""
    position = _floats(dataset.get("ImagePositionPatient"), 3)
    orientation = _floats(dataset.get("ImageOrientationPatient"), 6)
    if position is None or orientation is None:
        return None
    return float(np.dot(position, slice_normal(orientation)))


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
    uid, sop = dataset.get("SeriesInstanceUID"), dataset.get("SOPInstanceUID")
    orientation = _floats(dataset.get("ImageOrientationPatient"), 6)
    orientation = None if orientation is None else tuple(round(value, 3) for value in orientation)
    meta = getattr(dataset, "file_meta", None)
    directory = str((meta or {}).get("MediaStorageSOPClassUID", "")) == MEDIA_STORAGE_DIRECTORY
    return DicomHeader(Path(path), str(uid) if uid else None, slice_position(dataset), _instance_number(dataset),
                       str(sop) if sop else None, orientation, directory, None if directory else sequence_of(dataset))


def order_series(headers: list[DicomHeader]) -> list[DicomHeader]:
    """The files of one series in slice order: by position along the normal when every file
    has one (ties: instance number, then name), else by InstanceNumber (missing last), then name."""
    if headers and all(header.position is not None for header in headers):
        return sorted(headers, key=lambda h: (h.position, h.instance if h.instance is not None else 0, h.path.name))
    return sorted(headers, key=lambda h: (h.instance is None, h.instance or 0, str(h.path)))


def group_series(headers: list[DicomHeader]) -> list[SeriesGroup]:
    """Headers grouped by SeriesInstanceUID (first-met order), then by orientation when the
    files of a series hold more than one (each part its own group, with a note), each group
    in slice order; a file without a SeriesInstanceUID is a series of its own."""
    series: dict[object, list[DicomHeader]] = {}
    for header in headers:
        series.setdefault(header.series_uid or ("no series uid", header.path), []).append(header)
    groups = []
    for members in series.values():
        orientations = list(dict.fromkeys(header.orientation for header in members))
        if len([o for o in orientations if o is not None]) <= 1:
            groups.append(SeriesGroup(order_series(members)))
            continue
        for orientation in orientations:
            part = [header for header in members if header.orientation == orientation]
            where = ("without ImageOrientationPatient" if orientation is None
                     else f"{plane_of(orientation)} {orientation}")
            groups.append(SeriesGroup(order_series(part), note=(
                f"series {members[0].series_uid} holds files of {len(orientations)} orientations; "
                f"these {len(part)} are {where}")))
    return groups


def series_problem(group: SeriesGroup) -> str | None:
    """Why a series is refused as a whole (a non-axial one: the model was trained on axial
    slices, and slice 0 must be the inferior end), with the fix; None when it is read."""
    plane = group.plane
    if plane is None or plane == "axial":
        return None
    axis = {"sagittal": "left-right", "coronal": "anterior-posterior"}[plane]
    files = f"{len(group.headers)} file{'s' if len(group.headers) > 1 else ''}"
    return (f"{plane} series ({files}, slice normal along the patient's {axis}): predict reads "
            "axial DICOM series only; convert it to NIfTI (`dcm2niix -z y <folder>`), which predict reads "
            "resliced to axial")


def _voi_lut_item(dataset):
    """The first item of the VOI LUT Sequence (0028,3010) when it holds a LUT Descriptor and
    LUT Data (what `apply_voi_lut` takes for a LUT), else None."""
    sequence = dataset.get("VOILUTSequence")
    item = sequence[0] if sequence else None
    if item is None or item.get("LUTDescriptor") is None or item.get("LUTData") is None:
        return None
    return item


def _lut_grey(values: np.ndarray, dataset, item) -> np.ndarray:
    """Grey 0..255 (float) by the VOI LUT `item`, applied by pydicom's `apply_voi_lut`.

    Its input is the modality output rounded to integers, a value below the first one mapped
    taken to the first entry and one above the last to the last (PS3.3 C.11.2.1.1: pydicom's
    rule, applied here first so that its index array cannot wrap); its output, 0..2^n-1 with
    n the third LUT Descriptor value (bits an entry), is scaled to 0..255.
    """
    from pydicom.pixels import apply_voi_lut

    entries, first, bits = (int(value) for value in item.LUTDescriptor)
    entries = entries or 2 ** 16  # 0 means 65536 entries
    if bits == 8:
        # pydicom 3.0.2 indexes an 8-bit LUT through a uint8 array, so entry 256 and above wrap
        # to the start; LUT Data is read one 16-bit word an entry either way, so naming the
        # entries 16-bit changes only that index type, not the values looked up.
        item.LUTDescriptor = [item.LUTDescriptor[0], first, 16]
    indices = np.clip(np.rint(values), first, first + entries - 1).astype(np.int64)
    output = apply_voi_lut(indices, dataset, prefer_lut=True)
    return np.asarray(output, dtype=np.float64) * (255.0 / (2 ** bits - 1))


def _window_grey(values: np.ndarray, dataset) -> np.ndarray:
    """Grey 0..255 (float) by the file's first Window Center / Width and VOI LUT Function
    (LINEAR, LINEAR_EXACT or SIGMOID; PS3.3 C.11.2.1.2-3), applied by pydicom's `apply_voi_lut`.

    pydicom puts the window's bottom and top at the ends of the modality output range (Bits
    Stored and Pixel Representation, through the rescale or Modality LUT); they are what it
    gives for -inf and +inf, and are scaled to 0 and 255. A function other than the three
    standard ones is read as LINEAR, the default.
    """
    from pydicom.pixels import apply_voi_lut

    function = str(dataset.get("VOILUTFunction") or "").strip().upper()
    if function not in ("LINEAR_EXACT", "SIGMOID"):
        dataset.VOILUTFunction = "LINEAR"
    # SIGMOID far from its center: exp overflows, to 0 or 255 as it should; a flat output range
    # (a Rescale Slope of 0) divides by zero, and `_finite` refuses the result.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        output = apply_voi_lut(np.asarray(values, dtype=np.float64), dataset, prefer_lut=False)
        bottom, top = apply_voi_lut(np.array([-np.inf, np.inf]), dataset, prefer_lut=False)
        return (np.asarray(output, dtype=np.float64) - bottom) * (255.0 / (top - bottom))


def voi_grey(values: np.ndarray, dataset) -> np.ndarray | None:
    """Grey 0..255 (float, rows x columns) from modality values by the file's own VOI
    transform, PS3.3 C.11.2, through pydicom's `apply_voi_lut`: the first VOI LUT Sequence
    item when there is one (`_lut_grey`), else the first Window Center / Width (`_window_grey`).

    None when the file has neither, or when pydicom cannot apply them (a window width under 1,
    an unsupported LUT entry size, LUT Data shorter than its descriptor: a LUT that fails
    falls back to the window) or they give a value that is not finite: such a slice is
    mapped by the series' 0.5th and 99.5th percentiles instead (`read_series`). MONOCHROME1
    is not inverted here (`to_grey` does it).
    """
    item = _voi_lut_item(dataset)
    grey = None if item is None else _finite(_lut_grey, values, dataset, item)
    if grey is None and dataset.get("WindowCenter") is not None and dataset.get("WindowWidth") is not None:
        grey = _finite(_window_grey, values, dataset)
    return grey


def _finite(mapping, values: np.ndarray, *arguments) -> np.ndarray | None:
    """`mapping(values, *arguments)`, or None when it raises (a malformed VOI module) or gives
    a value that is not finite or a picture of another shape."""
    try:
        grey = mapping(values, *arguments)
    except Exception:  # noqa: BLE001 - pydicom raises many types for a malformed VOI module
        return None
    return grey if grey.shape == np.shape(values) and np.all(np.isfinite(grey)) else None


def _decoder_problem(dataset) -> str | None:
    """Why the pixel data cannot be decoded here (a compressed transfer syntax with no
    installed decoder), with the fix; None when it can be tried."""
    from pydicom.pixels import get_decoder

    syntax = dataset.file_meta.get("TransferSyntaxUID") if hasattr(dataset, "file_meta") else None
    if syntax is None:
        return None
    if not syntax.is_transfer_syntax:  # private (a vendor's) or newer than this pydicom (JPEG XL)
        return (f"transfer syntax {syntax} is not one pydicom {_pydicom_version()} knows (a private or newer "
                f"encoding); export the series uncompressed from the scanner or PACS, {DECOMPRESS_FIX}")
    if not syntax.is_compressed:
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


def _pydicom_version() -> str:
    import pydicom

    return pydicom.__version__


#: The Media Storage SOP Class of a DICOMDIR (PS3.4 Annex F).
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
TRUNCATED = "truncated or corrupt file"
COPY_AGAIN = "copy it again from the scanner or PACS"


def _no_pixels(dataset) -> str:
    """Why a file has no pixel data: an image whose file ends early (an image SOP class, or
    none at all: every complete DICOM object names one), or an object that is no image."""
    kind = dataset.get("SOPClassUID") or getattr(dataset, "file_meta", {}).get("MediaStorageSOPClassUID")
    name = getattr(kind, "name", "") if kind is not None else ""
    if kind is None:
        return f"{TRUNCATED}: the file ends before its pixel data (not even its SOP class is there); {COPY_AGAIN}"
    if "Image Storage" in name:
        return f"{TRUNCATED}: an {name} object without pixel data (the file ends early); {COPY_AGAIN}"
    return (f"holds no pixel data ({name or kind}): not an image (a DICOMDIR, report or presentation "
            "state?); give the series' image files")


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
        raise ImageReadError(_no_pixels(dataset))
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
        if "less than expected" in str(error):  # pydicom's words for pixel data cut short
            raise ImageReadError(f"{TRUNCATED}: its pixel data is cut short ({error}); {COPY_AGAIN}") from None
        raise ImageReadError(f"cannot decode the pixel data ({type(error).__name__}: {error}); {DECOMPRESS_FIX}") from None
    if values.ndim != 2:
        raise ImageReadError(f"pixel data shaped {values.shape}, not one 2D image; {MULTIFRAME_FIX}")
    voi = voi_grey(values, dataset)
    if voi is not None:
        voi = np.clip(np.rint(voi), 0, 255).astype(np.uint8)
    return DicomSlice(Path(path), values, voi, photometric == "MONOCHROME1")


def to_grey(item: DicomSlice, series_range: tuple[float, float] | None) -> np.ndarray:
    """One slice as the model sees it (240x240 uint8): its VOI LUT or window (`voi_grey`),
    else the series' percentile range; MONOCHROME1 inverted; resized."""
    if item.voi is not None:
        grey = item.voi
    else:
        grey = linear_to_grey(item.values, *series_range)
    if item.monochrome1:
        grey = 255 - grey
    return to_model_size(grey)


def read_series(group: SeriesGroup) -> DicomSeries:
    """Read the files of one series (in `group`'s slice order) as scans.

    Copies of one image (the same SOPInstanceUID: another transfer syntax, or the same file in
    two folders) are read once: the first copy that reads is the slice, the others get a skip
    line. Files that fail become `errors`; the others are the slices, numbered from 0. A
    series whose every pixel has one value raises `ImageReadError` ("no signal").
    """
    notes = [group.note] if group.note else []
    if len(group.headers) > 1 and any(header.position is None for header in group.headers):
        notes.append("ordered by InstanceNumber (a file lacks ImagePositionPatient or ImageOrientationPatient), "
                     "so slice 0 may not be the inferior end")
    sequences = [header.sequence for header in group.headers if header.sequence not in (None, "unknown")]
    series = DicomSeries(uid=group.uid, note="; ".join(notes) or None,
                         sequence=max(set(sequences), key=sequences.count) if sequences else "unknown")
    copies: dict[object, list[DicomHeader]] = {}
    for header in group.headers:
        copies.setdefault(header.sop_uid or header.path, []).append(header)
    usable: list[DicomSlice] = []
    for same in copies.values():
        read, failed = None, []
        for header in same:
            if read is not None:
                series.skipped.append((header.path, f"a copy of {read.path} (same SOPInstanceUID), counted once"))
                continue
            try:
                read = read_slice(header.path)
            except ImageReadError as error:
                failed.append((header.path, str(error)))
        if read is None:
            series.errors.extend(failed)
        else:
            usable.append(read)
            series.skipped.extend((path, f"a copy of {read.path} (same SOPInstanceUID) that cannot be read here "
                                   f"({reason}); counted once") for path, reason in failed)
    if usable and all(np.ptp(item.values) == 0 and item.values.flat[0] == usable[0].values.flat[0]
                      for item in usable):
        raise ImageReadError(f"no signal in the series: every pixel of its {len(usable)} readable files is "
                             f"{usable[0].values.flat[0]:g}; give the series that holds the images")
    without_window = [item.values for item in usable if item.voi is None]
    series_range = percentile_range(without_window) if without_window else None
    series.slices = [(item.path, to_grey(item, series_range)) for item in usable]
    return series
