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
path, ``..``, a symbolic link — is not found.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from entrepot.archive import OPEN_SUFFIX, ArchiveReader, Damage, Record, Report, verify
from entrepot.archive.compress import SUFFIXES
from entrepot.archive.naming import Template
from entrepot.errors import ArchiveError, ConfigError, InvalidName
from entrepot.names import check_name
from entrepot.service.config import ArchiveConfig, Config

__all__ = [
    "AREAS",
    "ArchiveFile",
    "Check",
    "Shown",
    "archive_files",
    "find_file",
    "last_records",
    "section_summary",
]

#: Where a section's files are, by area: its folder, the hand-off spool's new/ and cur/.
AREAS = ("folder", "new", "cur")
#: Files per page of a section.
FILES_PER_PAGE = 25
#: Seconds a page spends checking files it has not checked before.
CHECK_BUDGET = 0.15
#: Records shown at most from the end of one archive.
MAX_RECORDS = 100
#: Characters of a payload shown on a page (the JSON twin has them all).
PREVIEW = 2_000


def areas(config: Config, section: ArchiveConfig) -> dict[str, Path]:
    """The folders of ``section``'s files, by area (the spool's only with a hand-off spool)."""
    found = {"folder": section.folder}
    spool = config.spools.get(section.spool) if section.spool else None
    if spool is not None:
        found |= {"new": spool.path / "new", "cur": spool.path / "cur"}
    return found


def _made_by(template: Template) -> Callable[[str], bool]:
    """Whether a file name is one of the template's archives (open, compressed or not)."""
    suffixes = (OPEN_SUFFIX, *SUFFIXES.values())

    def matches(name: str) -> bool:
        for suffix in suffixes:
            name = name.removesuffix(suffix)
        return template.matches(name)

    return matches


def _names(folder: Path, matches: Callable[[str], bool]) -> list[str]:
    """Names of the regular files (never symbolic links) in ``folder`` that ``matches``."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if matches(e.name) and e.is_file(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


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
    matches = _made_by(Template(section.template))
    counts = {area: len(_names(folder, matches)) for area, folder in areas(config, section).items()}
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
    matches = _made_by(Template(section.template))
    deadline = time.monotonic() + budget
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

    opened: list[ArchiveFile] = []
    sealed: list[tuple[str, str, Path]] = []
    for area, folder in areas(config, section).items():
        for file_name in _names(folder, matches):
            if file_name.endswith(OPEN_SUFFIX):
                if (found := described(area, folder, file_name)) is not None:
                    opened.append(found)
            else:
                sealed.append((file_name, area, folder))
    sealed.sort(reverse=True)
    start = (page - 1) * FILES_PER_PAGE
    shown = [
        found
        for file_name, area, folder in sealed[start : start + FILES_PER_PAGE]
        if (found := described(area, folder, file_name)) is not None
    ]
    has_next = len(sealed) > start + FILES_PER_PAGE
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


@dataclass(frozen=True)
class Shown:
    """One record as a page shows it (payloads cut at :data:`PREVIEW` characters)."""

    offset: int
    metadata: dict[str, str]
    kind: str
    """``text``, ``json`` or ``binary``."""
    preview: str
    length: int
    """Characters of text or JSON, bytes of a binary payload."""
    record: Record

    def as_json(self) -> dict[str, Any]:
        payload = self.record.payload
        line: dict[str, Any] = {"offset": self.offset, "metadata": self.metadata}
        if isinstance(payload, bytes):
            line |= {"payload": base64.b64encode(payload).decode(), "payload_encoding": "base64"}
        else:
            line["payload"] = payload
        return line


def _shown(record: Record) -> Shown:
    payload = record.payload
    if isinstance(payload, bytes):
        head = payload[: PREVIEW // 3]
        text = head.hex(" ") + (" …" if len(payload) > len(head) else "")
        return Shown(record.offset, record.metadata, "binary", text, len(payload), record)
    if isinstance(payload, str):
        kind, text = "text", payload
    else:
        kind, text = "json", json.dumps(payload, ensure_ascii=False)
    cut = text[:PREVIEW] + (" …" if len(text) > PREVIEW else "")
    return Shown(record.offset, record.metadata, kind, cut, len(text), record)


def last_records(path: Path, count: int) -> tuple[list[Shown], list[Damage]]:
    """The last ``count`` (at most :data:`MAX_RECORDS`) intact records of ``path``, oldest
    first, and the damage met on the way (never a damaged record)."""
    count = max(1, min(count, MAX_RECORDS))
    try:
        with ArchiveReader(path) as reader:
            kept = deque(reader, maxlen=count)
            damage = list(reader.damage)
    except (ArchiveError, ConfigError, OSError) as exc:
        return [], [Damage(0, f"{type(exc).__name__}: {exc}")]
    return [_shown(record) for record in kept], damage
