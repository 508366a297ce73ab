"""What the data center pages list: the files of an area, a page at a time.

A row shows a file's name, size, date and line count.  Lines are counted by
reading the file (decompressed for ``.csv.gz``), so counts are kept per
(path, size, modification time) and a file is counted only up to
:data:`COUNT_LIMIT` bytes: a larger one shows no count rather than making the
page wait, and one page counts files of :data:`PAGE_BUDGET` bytes at most (the
others on a later view).  Names come from
:func:`~entrepot.datacenter.listing.regular_files`, which leaves hidden bookkeeping
entries, symbolic links and anything but regular files out.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import BinaryIO, Generic, Literal, TypeVar, get_args

from entrepot.datacenter import DataCenter, FileInfo
from entrepot.datacenter.listing import SortKey, regular_files, window

#: The areas listed by the pages: the root (``pending``), result folders, exports.
ListedArea = Literal["pending", "finished", "unfinished", "deleted", "graduated", "exports"]
LISTED_AREAS: tuple[ListedArea, ...] = get_args(ListedArea)

#: Files listed on one page.
PAGE_SIZE = 50
#: Bytes read at most to count the lines of one file.
COUNT_LIMIT = 64 * 1024 * 1024
#: Bytes of files (as stored) counted at most for one page; counts are remembered.
PAGE_BUDGET = 256 * 1024 * 1024
_BLOCK = 1 << 20
_CACHED = 4096

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items, its number (from 1) and how many there are."""

    items: Sequence[T]
    number: int
    pages: int
    total: int

    @classmethod
    def of(cls, items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
        """Page ``number`` of ``items`` (a number past the end gives the last page)."""
        pages = max(1, ceil(len(items) / size))
        number = min(max(1, number), pages)
        start = (number - 1) * size
        return cls(items[start : start + size], number, pages, len(items))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    def as_json(self) -> dict[str, object]:
        return {
            "page": self.number,
            "pages": self.pages,
            "total": self.total,
            "previous": self.previous,
            "next": self.next,
        }


@dataclass(frozen=True)
class FileRow:
    """A file as the pages show it."""

    area: ListedArea
    name: str
    size: int
    human_size: str
    date: str
    local_date: str
    lines: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "area": self.area,
            "name": self.name,
            "size": self.size,
            "date": self.date,
            "lines": self.lines,
        }


class _LineCounts:
    """Line counts of files, remembered while the file stays the same."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: OrderedDict[tuple[str, int, float], int | None] = OrderedDict()

    def of(self, info: FileInfo, budget: list[int]) -> int | None:
        """The lines of ``info``'s file; counting takes its size from ``budget[0]``, and a
        file larger than what is left is not counted (this time: a later page counts it)."""
        key = (str(info.path), info.size, info.mtime)
        with self._lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return self._counts[key]
        if info.size > budget[0]:
            return None
        budget[0] -= info.size
        count = count_lines(info.path)
        with self._lock:
            self._counts[key] = count
            while len(self._counts) > _CACHED:
                self._counts.popitem(last=False)
        return count


_LINE_COUNTS = _LineCounts()


def count_lines(path: Path, *, limit: int = COUNT_LIMIT) -> int | None:
    """The lines of ``path`` (a last line without a line end counts), decompressed for
    ``.gz``; None when it holds more than ``limit`` bytes or cannot be read."""
    lines = 0
    read = 0
    last = b"\n"
    try:
        # Never through a link: a file planted as one is not ours to read.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as raw:
            gzipped = path.name.lower().endswith(".gz")
            source: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
            while block := source.read(_BLOCK):
                read += len(block)
                if read > limit:
                    return None
                lines += block.count(b"\n")
                last = block[-1:]
    except (OSError, EOFError, zlib.error):
        return None
    return lines + (last != b"\n")


def area_files(center: DataCenter, area: ListedArea, *, sort: SortKey = "name") -> list[FileInfo]:
    """The CSV files of ``area`` (``pending`` is the root); symbolic links left out."""
    found = regular_files(_folder(center, area))
    return window(found, 0, len(found), sort)


def area_page(
    center: DataCenter, area: ListedArea, page: int = 1, *, sort: SortKey = "name"
) -> Page[FileRow]:
    """Page ``page`` of ``area``, its files' lines counted (only those shown).

    Only the page's files are picked and looked at (by date, every file's time is
    read): a page of 50 in a folder of 30,000 files is not a sort of them all.
    """
    found = regular_files(_folder(center, area))
    places = Page.of(range(len(found)), page)  # the page's number and its files' places
    infos = window(found, places.items[0], len(places.items), sort) if places.items else []
    budget = [PAGE_BUDGET]
    rows = [file_row(area, info, budget) for info in infos]
    return Page(rows, places.number, places.pages, places.total)


def _folder(center: DataCenter, area: ListedArea) -> Path:
    """Where the files of ``area`` are: the root for ``pending``, else its folder."""
    return center.root if area == "pending" else center.root / area


def file_row(area: ListedArea, info: FileInfo, budget: list[int]) -> FileRow:
    date = info.as_json()["date"]
    assert isinstance(date, str)
    return FileRow(
        area=area,
        name=info.name,
        size=info.size,
        human_size=info.human_size,
        date=date,
        local_date=info.local_date,
        lines=_LINE_COUNTS.of(info, budget),
    )


def parse_area(text: str) -> ListedArea | None:
    """``text`` as an area name, None when it names none."""
    for area in LISTED_AREAS:
        if text == area:
            return area
    return None


__all__ = [
    "COUNT_LIMIT",
    "LISTED_AREAS",
    "PAGE_SIZE",
    "FileRow",
    "ListedArea",
    "Page",
    "area_files",
    "area_page",
    "count_lines",
    "file_row",
    "parse_area",
]
