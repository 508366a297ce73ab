"""What the archive pages show: each configured archive's files, their checks, their last records.

An ``[archives.NAME]`` section writes into its ``folder`` (the ``.open``
file being written, and sealed files when there is no hand-off spool) and,
with a ``spool``, hands each sealed archive to that spool's ``new/`` folder,
from where a route ships it to ``cur/``.  The pages list the files of those
places whose names the section's template makes, newest name first, a page
at a time, each checked by :func:`entrepot.archive.verify` — records, seal,
damage.  A sealed archive never changes, so a check is kept (by path, size
and modification time) and a page checks what it can in a bounded time,
leaving the rest to the next view.

A file is only ever opened by its area and its name, looked up in the
section's own folders: a name that is not a plain file name there — a
path, ``..``, a symbolic link — is not found.  Its last records are
:mod:`entrepot.web.archive_records`'.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from entrepot.archive import OPEN_SUFFIX, Damage, Report, verify
from entrepot.archive.compress import SUFFIXES
from entrepot.archive.naming import Template
from entrepot.errors import ArchiveError, InvalidName
from entrepot.names import check_name
from entrepot.service.config import ArchiveConfig, Config

__all__ = [
    "AREAS",
    "ArchiveFile",
    "Check",
    "archive_files",
    "find_file",
    "section_summary",
]

#: Where a section's files are, by area: its folder, the hand-off spool's new/ and cur/.
AREAS = ("folder", "new", "cur")
#: Files per page of a section.
FILES_PER_PAGE = 25
#: Seconds a page spends checking files it has not checked before.
CHECK_BUDGET = 0.15
#: Seconds a folder's listing is trusted while its modification time stays the same.
LISTING_TTL = 30.0


def areas(config: Config, section: ArchiveConfig) -> dict[str, Path]:
    """The folders of ``section``'s files, by area (the spool's only with a hand-off spool)."""
    found = {"folder": section.folder}
    spool = config.spools.get(section.spool) if section.spool else None
    if spool is not None:
        found |= {"new": spool.path / "new", "cur": spool.path / "cur"}
    return found


def _made_by(template: Template) -> Callable[[str], bool]:
    """Whether a file name is one of the template's archives (open, compressed or not)."""
    # One compiled pattern for the whole listing (a spool's cur/ may hold 100,000 files).
    suffixes = "|".join(re.escape(s) for s in SUFFIXES.values())
    whole = fnmatch.translate(template.glob()).removesuffix(r")\Z")
    pattern = re.compile(f"{whole})(?:{suffixes})?(?:{re.escape(OPEN_SUFFIX)})?\\Z")
    return lambda name: pattern.match(name) is not None


class Listing(NamedTuple):
    """A folder's archives: the open ones, and the sealed ones newest name first."""

    open: list[str]
    sealed: list[str]


class _Listings:
    """Each folder's archive names, read again only when the folder changed (its
    modification time moves with every file added, renamed or removed) or after
    :data:`LISTING_TTL` seconds (a change within the clock's tick is not missed for long)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], tuple[int, float, Listing]] = {}
        self._lock = threading.Lock()

    def of(self, folder: Path, template: str) -> Listing:
        """The regular files (never symbolic links) in ``folder`` made by ``template``."""
        try:
            changed = folder.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return Listing([], [])
        key = (str(folder), template)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == changed and time.monotonic() < kept[1]:
            return kept[2]
        matches = _made_by(Template(template))
        try:
            with os.scandir(folder) as entries:
                found = [e.name for e in entries
                         if matches(e.name) and e.is_file(follow_symlinks=False)]  # fmt: skip
        except (FileNotFoundError, NotADirectoryError):
            return Listing([], [])
        listing = Listing(
            sorted(n for n in found if n.endswith(OPEN_SUFFIX)),
            sorted((n for n in found if not n.endswith(OPEN_SUFFIX)), reverse=True),
        )
        # A folder changed within the last second may change again within the same tick of
        # its clock, its time unchanged: such a listing is used once, not kept (as git does).
        if time.time() - changed / 1e9 > 1.0:
            with self._lock:
                if len(self._kept) > 1000:
                    self._kept.clear()
                self._kept[key] = (changed, time.monotonic() + LISTING_TTL, listing)
        return listing


LISTINGS = _Listings()


@dataclass(frozen=True)
class Check:
    """What :func:`entrepot.archive.verify` found in one file."""

    records: int
    state: str
    """``open``, ``sealed``, ``unsealed``, ``damaged`` or ``unreadable``."""
    format: int
    compression: str | None
    damage: tuple[Damage, ...]

    @classmethod
    def of(cls, report: Report, is_open: bool) -> Check:
        if report.damage:
            state = "damaged"
        elif is_open:
            state = "open"
        else:
            state = "sealed" if report.sealed or report.version < 2 else "unsealed"
        return cls(report.records, state, report.version, report.compression, report.damage)

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "state": self.state,
            "format": self.format,
            "compression": self.compression,
            "damage": [d._asdict() for d in self.damage],
        }


class _Checks:
    """Checks kept by (path, size, modification time): a sealed archive never changes."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, int, int], Check] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int]) -> Check | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[str, int, int], check: Check) -> None:
        with self._lock:
            self._kept[key] = check
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


CHECKS = _Checks()


def check_file(path: Path, info: os.stat_result) -> Check:
    """The check of ``path`` (kept for the next call while the file is unchanged)."""
    key = (str(path), info.st_size, info.st_mtime_ns)
    found = CHECKS.get(key)
    if found is None:
        is_open = path.name.endswith(OPEN_SUFFIX)
        try:
            found = Check.of(verify(path), is_open)
        except (ArchiveError, OSError) as exc:
            found = Check(0, "unreadable", 0, None, (Damage(0, f"{type(exc).__name__}: {exc}"),))
        CHECKS.put(key, found)
    return found


@dataclass(frozen=True)
class ArchiveFile:
    """One file of a section, with its check when one was made."""

    area: str
    name: str
    size: int
    modified: datetime
    check: Check | None

    def as_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "name": self.name,
            "size": self.size,
            "modified": self.modified.isoformat(),
            "check": self.check.as_json() if self.check else None,
        }


@dataclass(frozen=True)
class FilesPage:
    """A page of a section's files, newest name first; the open ones on every page."""

    section: str
    page: int
    open: list[ArchiveFile] = field(default_factory=list)
    files: list[ArchiveFile] = field(default_factory=list)
    has_next: bool = False
    unchecked: int = 0
    """Files of this page left unchecked, the time budget spent (checked on a later view)."""


def section_summary(config: Config, name: str) -> dict[str, Any]:
    """One section's settings and how many files each area holds."""
    section = config.archives[name]
    counts = {
        area: sum(map(len, LISTINGS.of(folder, section.template)))
        for area, folder in areas(config, section).items()
    }
    return {
        "name": name,
        "folder": str(section.folder),
        "template": section.template,
        "compress": section.compress,
        "spool": section.spool,
        "files": counts,
    }


def archive_files(
    config: Config, name: str, page: int, *, budget: float = CHECK_BUDGET
) -> FilesPage:
    """Page ``page`` (from 1) of the sealed files of section ``name``, and its open files."""
    section = config.archives[name]
    deadline = 0.0
    unchecked = 0

    def described(area: str, folder: Path, file_name: str) -> ArchiveFile | None:
        nonlocal unchecked
        path = folder / file_name
        try:
            info = path.lstat()
        except FileNotFoundError:
            return None  # shipped or sealed meanwhile
        check = None
        if time.monotonic() < deadline or CHECKS.get((str(path), info.st_size, info.st_mtime_ns)):
            check = check_file(path, info)
        else:
            unchecked += 1
        modified = datetime.fromtimestamp(info.st_mtime, UTC)
        return ArchiveFile(area, file_name, info.st_size, modified, check)

    places = areas(config, section)
    listings = {area: LISTINGS.of(folder, section.template) for area, folder in places.items()}
    deadline = time.monotonic() + budget
    opened = [
        found
        for area, listing in listings.items()
        for file_name in listing.open
        if (found := described(area, places[area], file_name)) is not None
    ]
    # The areas' lists are each sorted already: merged, only the page's start is walked.
    merged = heapq.merge(
        *(zip(listing.sealed, itertools.repeat(area)) for area, listing in listings.items()),
        reverse=True,
    )
    start = (page - 1) * FILES_PER_PAGE
    window = list(itertools.islice(merged, start, start + FILES_PER_PAGE + 1))
    shown = [
        found
        for file_name, area in window[:FILES_PER_PAGE]
        if (found := described(area, places[area], file_name)) is not None
    ]
    has_next = len(window) > FILES_PER_PAGE
    return FilesPage(name, page, opened, shown, has_next, unchecked)


def find_file(config: Config, name: str, area: str, file_name: str) -> Path | None:
    """The file ``file_name`` of ``area`` of section ``name``: None unless it is a plain
    name of one of the section's archives, a regular file in that area's folder."""
    section = config.archives.get(name)
    if section is None:
        return None
    folder = areas(config, section).get(area)
    try:
        check_name(file_name, what="archive name")
    except InvalidName:
        return None
    if folder is None or not _made_by(Template(section.template))(file_name):
        return None
    path = folder / file_name
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
    except OSError:
        return None
    return path
