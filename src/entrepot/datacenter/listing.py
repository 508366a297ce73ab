"""Listings of data center files with the sizes and dates operators read.

Sizes follow the old data center's wording (``13 bytes``, ``1.50 kb``,
``2.00 MB``) so that pages and scripts built on it keep working; dates are
shown in local time because operators compare them with their own clock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

SortKey = Literal["name", "date"]

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


def is_finished_rows_name(name: str) -> bool:
    """``x.create.finished.csv``: the rows imported from ``x.csv``."""
    return name.endswith(".finished.csv")


def is_log_name(name: str, *, include_backups: bool = False) -> bool:
    return include_backups or not _BACKUP_SUFFIX.search(name)
