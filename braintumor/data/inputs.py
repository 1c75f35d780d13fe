"""What `predict` reads: the command line's files and folders as a list of `Entry`s.

Folders are walked recursively (pictures, `.dcm`, `.nii`, `.nii.gz`; other files are listed
as skipped), files named on the command line are always read, and the DICOM files met are
grouped into series (`dicom.group_series`). Reading the scans themselves is left to
`images`, `dicom` and `nifti`; pydicom is imported only when there is a DICOM file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .. import config
from .images import ImageReadError


@dataclass
class Entry:
    """One file or folder to report on: predict it, or report its error or why it is skipped.

    `kind` says how to read it: "image" (a picture), "nifti" (a volume), "dicom" (one DICOM
    file, before grouping) or "series" (DICOM files grouped by `_group_dicom`, in `series`)."""

    path: Path
    error: str | None = None
    skipped: str | None = None
    kind: str = "image"
    series: list | None = None  # the `dicom.DicomHeader`s of a series, in slice order





def input_kind(path: Path) -> str | None:
    """"image", "dicom" or "nifti" by the file's name (`config`'s suffixes); None for others."""
    name = path.name.lower()
    if name.endswith(config.NIFTI_NAME_ENDINGS):
        return "nifti"
    if path.suffix.lower() in config.DICOM_SUFFIXES:
        return "dicom"
    if path.suffix.lower() in config.IMAGE_SUFFIXES:
        return "image"
    return None


def _named_file_kind(path: Path) -> str:
    """How to read a file named on the command line: by its name, else DICOM when it has
    the DICOM marker ('DICM' at byte 128: scanners often write files without a suffix), else
    as a picture (whatever its suffix)."""
    kind = input_kind(path)
    if kind is not None:
        return kind
    try:
        with open(path, "rb") as handle:
            return "dicom" if handle.read(132)[128:] == b"DICM" else "image"
    except OSError:
        return "image"  # read_scan says why


def expand_paths(paths) -> list[Entry]:
    """What to report on, in the given order; folders are walked by `walk_folder`, and the
    DICOM files met anywhere are grouped into series (`_group_dicom`).

    A file named on the command line is always read (whatever its suffix); a missing path,
    or a folder without any input file below it, keeps its place as an error so that it is
    reported in order with the rest.
    """
    entries: list[Entry] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list(walk_folder(path))
            unlisted = any(entry.path == path and entry.error for entry in found)  # already says why
            if not unlisted and not any(entry.error is None and entry.skipped is None for entry in found):
                suffixes = ", ".join(sorted(config.IMAGE_SUFFIXES | config.DICOM_SUFFIXES)
                                     + list(config.NIFTI_NAME_ENDINGS))
                entries.append(Entry(path, error=f"folder holds no images (looked for {suffixes}, in subfolders too)"))
            entries.extend(found)
        elif path.exists():
            entries.append(Entry(path, kind=_named_file_kind(path)))
        else:
            entries.append(Entry(path, error="no such file or folder"))
    return _group_dicom(entries)


def _group_dicom(entries: list[Entry]) -> list[Entry]:
    """The DICOM entries replaced by one "series" entry per SeriesInstanceUID, at the place of
    the series' first file (a series spread over several arguments or folders is one);
    a file whose header cannot be read becomes an error entry in its place. Imports pydicom
    only when there is a DICOM file."""
    dicom = [entry for entry in entries if entry.kind == "dicom" and entry.error is None and entry.skipped is None]
    if not dicom:
        return entries
    from .dicom import group_series, read_header

    headers, errors = [], {}
    for entry in dicom:
        try:
            headers.append(read_header(entry.path))
        except ImageReadError as error:
            errors[id(entry)] = str(error)
    index_of = {entry.path: index for index, entry in reversed(list(enumerate(dicom)))}  # first mention
    first_met = {min(group, key=lambda header: index_of[header.path]).path: group for group in group_series(headers)}
    grouped = []
    for entry in entries:
        if entry.kind != "dicom" or entry.error is not None or entry.skipped is not None:
            grouped.append(entry)
        elif id(entry) in errors:
            grouped.append(Entry(entry.path, error=errors[id(entry)]))
        elif entry.path in first_met:
            group = first_met[entry.path]
            grouped.append(Entry(_series_name(group), kind="series", series=group))
    return grouped


def _series_name(headers) -> Path:
    """How a series' summary line names it: the one file, or the folder holding its files."""
    if len(headers) == 1:
        return headers[0].path
    return Path(os.path.commonpath([str(header.path.parent) for header in headers]))


def walk_folder(folder: Path) -> Iterator[Entry]:
    """Every file below `folder`, depth first, each folder's entries sorted by name.

    Names starting with '.' (files and folders) are passed over silently. A link to a
    folder inside `folder` is not followed (the folder is walked under its own name); other
    folder links are, but each real folder is entered once, so a link loop neither hangs
    nor lists a file twice. A file whose suffix is not an image's is skipped (with a line
    saying so); one with an image suffix that is not a regular file (a broken link, a pipe)
    is an error.
    """
    root = folder.resolve()
    entered = {_folder_key(folder)}
    stack = [_sorted_children(folder)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if isinstance(child, Entry):  # a folder that could not be listed
            yield child
        elif child.is_dir():
            path = Path(child.path)
            if child.is_symlink() and path.resolve().is_relative_to(root):
                continue
            key = _folder_key(path)
            if key not in entered:
                entered.add(key)
                stack.append(_sorted_children(path))
        else:
            yield _file_entry(Path(child.path), child.is_file())


def _folder_key(folder: Path) -> tuple[int, int]:
    """(device, inode) of the folder a path leads to: the same for every link to it."""
    info = folder.stat()
    return info.st_dev, info.st_ino


def _sorted_children(folder: Path) -> Iterator[os.DirEntry | Entry]:
    """The folder's entries not starting with '.', sorted by name; an error `Entry` when the
    folder cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            children = sorted((child for child in listing if not child.name.startswith(".")), key=lambda c: c.name)
    except OSError as error:
        return iter([Entry(folder, error=f"cannot list folder ({error.strerror or error})")])
    return iter(children)


def _file_entry(path: Path, is_regular_file: bool) -> Entry:
    """A file met in a folder: read by its name's kind (picture, `.dcm`, `.nii[.gz]`), else skipped."""
    kind = input_kind(path)
    if kind is None:
        return Entry(path, skipped="not an image file")
    if not is_regular_file:
        return Entry(path, error="not a regular file (a broken link, a pipe or a device)")
    return Entry(path, kind=kind)
