"""Listings of data center files with the sizes and dates operators read.

Sizes follow the old data center's wording (``13 bytes``, ``1.50 kb``,
``2.00 MB``) so that pages and scripts built on it keep working; dates are
shown in local time because operators compare them with their own clock.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

SortKey = Literal["name", "date"]
T = TypeVar("T")

_UNITS = ("kb", "MB", "GB")
#: Rotated log backups (``datacenter.log.1``) are left out of log listings.
_BACKUP_SUFFIX = re.compile(r"\.[0-9]+\Z")


def human_size(size: int) -> str:
    """``13`` → ``13 bytes``, ``1536`` → ``1.50 kb``, ``2097152`` → ``2.00 MB``."""
    for power in range(len(_UNITS), 0, -1):
        if size >= 1024**power:
            return f"{size / 1024**power:.2f} {_UNITS[power - 1]}"
    return f"{size} bytes"


@dataclass(frozen=True)
class FileInfo:
    """One file of the data center, as listings show it."""

    path: Path
    size: int
    mtime: float

    @classmethod
    def of(cls, path: Path) -> FileInfo:
        stat = path.stat()
        return cls(path=path, size=stat.st_size, mtime=stat.st_mtime)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def human_size(self) -> str:
        return human_size(self.size)

    def as_json(self) -> dict[str, object]:
        """Name, size in bytes and modification time (UTC, ISO 8601)."""
        date = datetime.fromtimestamp(self.mtime, UTC).isoformat(timespec="seconds")
        return {"name": self.name, "size": self.size, "date": date}

    @property
    def local_date(self) -> str:
        """Modification time in local time, to the second."""
        return datetime.fromtimestamp(self.mtime).strftime("%Y-%m-%d %H:%M:%S")


def is_csv_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".csv", ".csv.gz"))


def list_files(
    folder: Path,
    *,
    accept: Callable[[str], bool] = is_csv_name,
    sort: SortKey = "name",
) -> list[FileInfo]:
    """Regular files of ``folder`` whose name ``accept`` takes, hidden ones excluded.

    ``sort="name"`` orders by name; ``sort="date"`` puts the newest first.
    """
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    infos = []
    for name in names:
        if name.startswith(".") or not accept(name):
            continue
        path = folder / name
        try:
            if not path.is_file():
                continue
            infos.append(FileInfo.of(path))
        except FileNotFoundError:
            # Moved away by an import running at the same time.
            continue
    return sort_files(infos, sort)


def sort_files(infos: Iterable[FileInfo], sort: SortKey) -> list[FileInfo]:
    if sort == "name":
        return sorted(infos, key=lambda info: info.name)
    if sort == "date":
        return sorted(infos, key=lambda info: (info.mtime, info.name), reverse=True)
    raise ValueError(f"unknown sort order {sort!r}: use 'name' or 'date'")


def regular_files(
    folder: Path, *, accept: Callable[[str], bool] = is_csv_name
) -> list[os.DirEntry[str]]:
    """The regular files of ``folder`` whose name ``accept`` takes, hidden ones and
    symbolic links left out, as the folder's entries: what a file is comes with its
    entry, so finding them costs no look at each file (:func:`window` looks at those
    it shows)."""
    try:
        with os.scandir(folder) as entries:
            return [
                entry
                for entry in entries
                if not entry.name.startswith(".")
                and accept(entry.name)
                and entry.is_file(follow_symlinks=False)
            ]
    except FileNotFoundError:
        return []


def window(
    entries: Sequence[os.DirEntry[str]], start: int, count: int, sort: SortKey
) -> list[FileInfo]:
    """The files ``start`` to ``start + count`` of ``entries`` in ``sort`` order, as
    :func:`sort_files` would place them: a page near the front of a folder of
    thousands is picked without sorting them all, and sorted by name, only the page's
    files are looked at (by date, every file's time is read, once, never through a
    link).  A file moved away meanwhile (by an import) is left out."""
    if start < 0 or count < 0:
        raise ValueError("a window starts and counts from 0")
    if sort == "name":
        named = _picked(entries, start, count, key=lambda entry: entry.name)
        return [info for entry in named if (info := _info(entry)) is not None]
    if sort == "date":
        dated = []
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                dated.append((entry.stat(follow_symlinks=False).st_mtime, entry.name, entry))
        newest = _picked(dated, start, count, key=lambda item: item[:2], reverse=True)
        return [info for _, _, entry in newest if (info := _info(entry)) is not None]
    raise ValueError(f"unknown sort order {sort!r}: use 'name' or 'date'")


def _picked(
    items: Sequence[T], start: int, count: int, *, key: Callable[[T], Any], reverse: bool = False
) -> list[T]:
    """``sorted(items, key=key, reverse=reverse)[start:start + count]``, through a heap
    while the window is near the front (heapq's own advice: a sort past that)."""
    end = min(start + count, len(items))
    if end <= start:
        return []
    if end * 4 > len(items):
        return sorted(items, key=key, reverse=reverse)[start:end]
    pick = heapq.nlargest if reverse else heapq.nsmallest
    return pick(end, items, key=key)[start:]


def _info(entry: os.DirEntry[str]) -> FileInfo | None:
    """``entry``'s size and date (None once moved away, by an import at the same time)."""
    try:
        stat = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None
    return FileInfo(path=Path(entry.path), size=stat.st_size, mtime=stat.st_mtime)


def is_finished_rows_name(name: str) -> bool:
    """``x.create.finished.csv``: the rows imported from ``x.csv``."""
    return name.endswith(".finished.csv")


def is_log_name(name: str, *, include_backups: bool = False) -> bool:
    return include_backups or not _BACKUP_SUFFIX.search(name)
