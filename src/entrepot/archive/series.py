"""Reading many archives as one stream, oldest file first.

:class:`ArchiveSet` sorts the files by the creation time in their headers
(the modification time for format 1) and reads them one after the other,
ending with :class:`NoMoreFiles` from ``read()``.  A file that cannot be
read at all — not an archive, or damaged from its first byte — is listed in
:attr:`ArchiveSet.damage` and passed over, so one bad file never hides the
others (``strict=True`` raises instead).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from entrepot.archive import compress, format
from entrepot.archive.format import MAX_RECORD, ArchiveHeader, Record
from entrepot.archive.reader import OPEN_SUFFIX, PROBE_SIZE, ArchiveReader, Damage, open_file
from entrepot.errors import ArchiveError
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


class NoMoreFiles(ArchiveError):
    """There are no more records in any of the archive files."""


def expand_named(
    patterns: Iterable[str | os.PathLike[str]], *, include_open: bool = False
) -> dict[Path, bool]:
    """Each file matching the glob ``patterns`` (or named by one, without glob characters),
    and whether it was named: a symbolic link a glob found in a folder is never followed
    out of it (:class:`~entrepot.archive.ArchiveReader`'s ``follow``); one named is."""
    found: dict[str, tuple[Path, bool]] = {}
    for pattern in patterns:
        text = os.fspath(pattern)
        named = not glob.has_magic(text)
        for match in [text] if named else sorted(glob.glob(text)):
            if os.path.isdir(match):
                continue
            if not include_open and match.endswith(OPEN_SUFFIX):
                continue
            key = os.path.abspath(match)
            found[key] = (
                (found[key][0], found[key][1] or named) if key in found else (Path(match), named)
            )
    return dict(found.values())


def peek_header(path: Path, *, follow: bool = True) -> ArchiveHeader | None:
    """The format-2 header of ``path`` (None for format 1), reading only its start
    (:func:`~entrepot.archive.reader.open_file`: ``follow``, a symbolic link)."""
    with open_file(path, follow=follow) as raw:
        prefix = compress.read_prefix(raw, PROBE_SIZE)
    if format.probe_version(prefix) is None:
        return None
    return format.decode_header(prefix)


def creation_key(path: Path) -> tuple[float, int, str]:
    """Sort key: header creation time and sequence, then the name (never raises)."""
    try:
        header = peek_header(path)
        if header is not None:
            return (header.created, header.seq, path.name)
    except (ArchiveError, OSError):
        pass
    try:
        return (path.stat().st_mtime, 0, path.name)
    except OSError:
        return (0.0, 0, path.name)


class ArchiveSet:
    """Read the records of many archives, oldest file first, as one stream.

    ``on_open(path)`` and ``on_close(path)`` are called as each file is
    started and finished.
    """

    def __init__(
        self,
        patterns: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        strict: bool = False,
        include_open: bool = False,
        max_record: int = MAX_RECORD,
        on_open: Callable[[Path], Any] | None = None,
        on_close: Callable[[Path], Any] | None = None,
    ) -> None:
        if isinstance(patterns, str | os.PathLike):
            patterns = [patterns]
        found = expand_named(patterns, include_open=include_open)
        self.paths = sorted(found, key=creation_key)
        self._named = found
        self.strict = strict
        self.max_record = max_record
        #: Every damaged span met so far, with the file it is in.
        self.damage: list[tuple[Path, Damage]] = []
        self._on_open = on_open
        self._on_close = on_close
        self._index = 0
        self._current: ArchiveReader | None = None

    def read(self) -> Record:
        """The next record of any file; raise :class:`NoMoreFiles` after the last."""
        while True:
            current = self._current or self._next_file()
            if current is None:
                raise NoMoreFiles()
            record = current.read()
            if record is not None:
                return record
            self._finish_current()

    def _next_file(self) -> ArchiveReader | None:
        """Open the next readable file (None after the last)."""
        while self._index < len(self.paths):
            path = self.paths[self._index]
            try:
                self._current = ArchiveReader(
                    path, strict=self.strict, max_record=self.max_record, follow=self._named[path]
                )
            except (ArchiveError, OSError) as exc:
                if self.strict:
                    raise
                self._index += 1
                self.damage.append((path, Damage(0, str(exc))))
                log_event(logger, "archive.unreadable", logging.WARNING, file=path, error=exc)
                continue
            if self._on_open is not None:
                self._on_open(path)
            return self._current
        return None

    def _finish_current(self) -> None:
        current = self._current
        assert current is not None and current.path is not None
        self.damage.extend((current.path, item) for item in current.damage)
        current.close()
        self._current = None
        self._index += 1
        if self._on_close is not None:
            self._on_close(current.path)

    def __iter__(self) -> Iterator[Record]:
        # chain() hands each record straight from a file's scanner to the caller.
        return chain.from_iterable(self._each_file())

    def _each_file(self) -> Iterator[ArchiveReader]:
        while (current := self._current or self._next_file()) is not None:
            yield current
            self._finish_current()

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def __enter__(self) -> ArchiveSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
