"""The input kinds `predict` reads, each registered once (MONAI's `LoadImage` keeps its
`SUPPORTED_READERS` so): pictures, DICOM files (grouped into series) and NIfTI volumes.

A reader says which files are its own (by name, else by their first bytes), how the files
met are grouped into entries (DICOM files into series), and how an entry becomes the
model's scans (`Scans`). `inputs` asks `reader_for` which reader takes a file; `predict`
calls the entry's reader; neither dispatches on the kind's name. How each kind becomes the
model's 240x240 grey picture is stated once, in docs/predict.md (its template
`reports/templates/predict.md.j2`); the modules `images`, `dicom` and `nifti` apply it.
Another input kind is one more `register(...)` here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from .images import ImageReadError, read_scan

#: PIL's names of the picture formats read; the suffixes of `config.IMAGE_SUFFIXES` are theirs.
PICTURE_FORMATS = frozenset({"JPEG", "PNG", "BMP", "TIFF"})


@dataclass
class Scans:
    """What a reader made of one entry: its scans in order and the file each came from.

    `volume`: the scans are the slices of a volume or series (numbered from 0, the inferior
    end, and followed by a summary line), not one picture. `errors` and `skipped` are the
    files of a series that gave no scan, with the reason, in the order met."""

    files: list[Path]
    scans: list[np.ndarray]
    volume: bool = False
    series: str | None = None  # a DICOM series' SeriesInstanceUID
    note: str | None = None
    sequence: str | None = None  # a DICOM series' MR sequence, as its fields name it
    errors: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


class Reader:
    """One input kind. Subclasses set `name` and `description` and override what differs."""

    name = ""
    description = ""  # for the line of a file no reader takes
    suffixes: tuple[str, ...] = ()  # lower-case name endings that are this kind's

    def claims_name(self, path: Path) -> bool:
        """True when the file's name says it is this kind."""
        return path.name.lower().endswith(self.suffixes)

    def claims_content(self, path: Path, head: bytes) -> bool:
        """True when the file's first bytes (`head`, up to 132) say it is this kind."""
        return False

    def group(self, entries: list) -> list:
        """The entries with this kind's replaced by what is read together (default: as they are)."""
        return entries

    def read(self, entry) -> Scans:
        """The entry's scans; `ImageReadError` when it gives none."""
        raise NotImplementedError


class PictureReader(Reader):
    name, description = "picture", "pictures (" + ", ".join(sorted(config.IMAGE_SUFFIXES)) + ")"
    suffixes = tuple(sorted(config.IMAGE_SUFFIXES))

    def claims_content(self, path: Path, head: bytes) -> bool:
        """A JPEG, PNG, BMP or TIFF under another name (PIL reads only the header)."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return image.format in PICTURE_FORMATS
        except (OSError, UnidentifiedImageError, ValueError):
            return False

    def read(self, entry) -> Scans:
        return Scans([entry.path], [read_scan(entry.path)])


class DicomReader(Reader):
    name, description = "dicom", "DICOM files (.dcm, or any name with the 'DICM' marker)"
    suffixes = tuple(sorted(config.DICOM_SUFFIXES))

    def claims_content(self, path: Path, head: bytes) -> bool:
        """The DICOM Part 10 marker, 'DICM' after the 128-byte preamble (scanners often
        write files without a suffix)."""
        return head[128:132] == b"DICM"

    def group(self, entries: list) -> list:
        """Its files replaced by one entry per series and orientation (`dicom.group_series`),
        at the place of the series' first file; duplicates, DICOMDIRs and unreadable
        headers keep their place as skip or error lines. Imports pydicom only when needed."""
        mine = [entry for entry in entries if entry.reader is self and entry.usable]
        if not mine:
            return entries
        from .dicom import group_series, read_header, series_problem

        headers, replaced = [], {}
        for entry in mine:
            try:
                header = read_header(entry.path)
            except ImageReadError as error:
                replaced[entry.path] = [type(entry)(entry.path, error=str(error))]
                continue
            if header.directory:
                replaced[entry.path] = [type(entry)(entry.path, skipped="a DICOMDIR (the index of a DICOM disc), "
                                                    "not an image; its image files are read where they are")]
            else:
                headers.append(header)
        order = {entry.path: index for index, entry in reversed(list(enumerate(mine)))}
        for group in group_series(headers):
            first = min(group.headers, key=lambda header: order[header.path]).path
            name = _series_name(group.headers)
            problem = series_problem(group)
            series = (type(entry)(name, error=problem) if problem else
                      type(entry)(name, reader=self, members=group))
            replaced.setdefault(first, []).append(series)
        grouped = []
        for entry in entries:
            if entry.reader is self and entry.usable:
                grouped.extend(replaced.get(entry.path, []))
            else:
                grouped.append(entry)
        return grouped

    def read(self, entry) -> Scans:
        from .dicom import read_series

        series = read_series(entry.members)
        return Scans([path for path, _ in series.slices], [scan for _, scan in series.slices], volume=True,
                     series=series.uid, note=series.note, errors=series.errors, skipped=series.skipped,
                     sequence=series.sequence)


def _series_name(headers) -> Path:
    """How a series' summary line names it: the one file, or the folder holding its files."""
    if len(headers) == 1:
        return headers[0].path
    return Path(os.path.commonpath([str(header.path.parent) for header in headers]))


class NiftiReader(Reader):
    name, description = "nifti", "NIfTI volumes (" + ", ".join(config.NIFTI_NAME_ENDINGS) + ")"
    suffixes = tuple(config.NIFTI_NAME_ENDINGS)

    def read(self, entry) -> Scans:
        from .nifti import read_nifti

        volume = read_nifti(entry.path)
        return Scans([entry.path] * len(volume.slices), list(volume.slices), volume=True, note=volume.note)


#: Every input kind, by name, in the order a file's name is matched against them.
READERS: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    """Add an input kind (its `name` must be new)."""
    if reader.name in READERS:
        raise ValueError(f"a reader named {reader.name!r} is registered already")
    READERS[reader.name] = reader
    return reader


for _reader in (NiftiReader(), DicomReader(), PictureReader()):
    register(_reader)


def reader_for(path: Path) -> Reader | None:
    """The reader that takes `path`: the first whose name rule matches, else the first whose
    content rule does (the file's first 132 bytes), else None. The same rule for a file
    named on the command line and a file met in a folder."""
    for reader in READERS.values():
        if reader.claims_name(path):
            return reader
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return None
    return next((reader for reader in READERS.values() if reader.claims_content(path, head)), None)


#: The skip line of a file in a folder that no reader takes (short: a dataset folder has many).
NOT_READ = "not an image file"


def what_is_read() -> str:
    """What predict reads, for the line of a named file no reader takes and of an empty folder."""
    return "; ".join(reader.description for reader in READERS.values())
