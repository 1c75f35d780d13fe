"""What `predict` reads: the command line's files and folders as a list of `Entry`s.

Folders are walked recursively; every file, named or met in a folder, goes to the reader
`readers.reader_for` picks (by name, else by content), and the readers then group their
entries (the DICOM files met anywhere into series). A file no reader takes is skipped in a
folder and an error when named. Reading the scans is the readers' (`readers`); pydicom is
imported only when there is a DICOM file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .readers import NOT_READ, READERS, Reader, reader_for, what_is_read


@dataclass
class Entry:
    """One file or folder to report on: read it with `reader`, or report its error or why
    it is skipped. `members`: what the reader grouped into it (a DICOM series' headers)."""

    path: Path
    error: str | None = None
    skipped: str | None = None
    reader: Reader | None = None
    members: object = None

    @property
    def usable(self) -> bool:
        """True when the entry is to be read (neither an error nor skipped)."""
        return self.error is None and self.skipped is None and self.reader is not None


def expand_paths(paths) -> list[Entry]:
    """What to report on, in the given order; folders are walked by `walk_folder`, and each
    reader then groups its entries (`Reader.group`: DICOM files into series).

    A missing path, a named file no reader takes, or a folder without any file to read below
    it, keeps its place as an error so that it is reported in order with the rest.
    """
    entries: list[Entry] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list(walk_folder(path))
            unlisted = any(entry.path == path and entry.error for entry in found)  # already says why
            if not unlisted and not any(entry.usable for entry in found):
                looked = f"looked for {what_is_read()}, in subfolders too"
                entries.append(Entry(path, error=f"folder holds no images ({looked})"))
            entries.extend(found)
        elif path.is_file():
            reader = reader_for(path)
            entries.append(Entry(path, reader=reader) if reader else Entry(path, error=(
                f"{NOT_READ}: predict reads {what_is_read()}; convert it to one of them")))
        else:
            entries.append(Entry(path, error=_missing_reason(path)))
    for reader in READERS.values():
        entries = reader.group(entries)
    return entries


def _missing_reason(path: Path) -> str:
    """Why a named path cannot be read: missing, a broken link or link loop, or not a file."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as error:
            return f"a broken symbolic link or a link loop ({error.strerror}); give the file it should lead to"
    return "not a regular file (a pipe or a device)" if os.path.lexists(path) else "no such file or folder"


def walk_folder(folder: Path) -> Iterator[Entry]:
    """Every file below `folder`, depth first, each folder's entries sorted by name.

    Names starting with '.' (files and folders) are passed over silently. A link to a
    folder inside `folder` is not followed (the folder is walked under its own name); other
    folder links are, but each real folder is entered once, so a link loop neither hangs
    nor lists a file twice; a link that cannot be followed (a loop of links, a -> b -> a)
    gets a skip line. A file no reader takes is skipped (with a line saying so); one that is
    not a regular file (a broken link, a pipe) is an error.
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
            continue
        path = Path(child.path)
        try:
            is_dir = child.is_dir()
        except OSError as error:  # ELOOP: a loop of links
            yield Entry(path, skipped=f"symbolic link not followed ({error.strerror})")
            continue
        if is_dir:
            if child.is_symlink() and path.resolve().is_relative_to(root):
                continue
            key = _folder_key(path)
            if key not in entered:
                entered.add(key)
                stack.append(_sorted_children(path))
        else:
            yield _file_entry(path, child.is_file())


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
    """A file met in a folder: read by the reader that takes it, else skipped."""
    if not is_regular_file:
        if any(reader.claims_name(path) for reader in READERS.values()):
            return Entry(path, error="not a regular file (a broken link, a pipe or a device)")
        return Entry(path, skipped=NOT_READ)
    reader = reader_for(path)
    return Entry(path, reader=reader) if reader else Entry(path, skipped=NOT_READ)
