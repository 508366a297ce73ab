"""Reading archives: one file, or a series of files in creation order.

:class:`ArchiveReader` opens one file of any supported kind: format 2 or
shoebox format 1, plain or compressed (recognised by content, never by
name).  It yields only records whose checksums match.  A damaged record is
skipped and listed in :attr:`ArchiveReader.damage` (or raises
:class:`~entrepot.errors.CorruptRecord` with ``strict=True``); a file that
ends inside a record — the torn tail of a crashed writer — simply ends.

:class:`ArchiveSet` reads many files, sorted by the creation time in their
headers, as one stream, ending with :class:`NoMoreFiles` from ``read()``.
"""

from __future__ import annotations

import glob
import io
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple

from entrepot.archive import compress, format, shoebox_v1
from entrepot.archive.format import ArchiveHeader, Record
from entrepot.archive.scan import Buffer, ScanState, StreamDamaged, scan_v2
from entrepot.errors import ArchiveError, CorruptRecord, UnknownFormat
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: Name suffix of an archive that is still being written.
OPEN_SUFFIX = ".open"
_PROBE = 4096


class NoMoreFiles(ArchiveError):
    """There are no more records in any of the archive files."""


class Damage(NamedTuple):
    """One damaged spot: its byte offset (in the uncompressed stream) and what is wrong."""

    offset: int
    reason: str


class ArchiveReader:
    """Read the records of one archive file (or binary stream).

    ``source`` is a path or a readable binary file object.  Iterate over the
    reader, or call :meth:`read` until it returns None.
    """

    def __init__(self, source: str | os.PathLike[str] | IO[bytes], *, strict: bool = False):
        self.strict = strict
        self.damage: list[Damage] = []
        self.header: ArchiveHeader | None = None
        self._state = ScanState()
        if isinstance(source, str | os.PathLike):
            self.path: Path | None = Path(source)
            self._raw: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed in close()
        else:
            self.path = None
            self._raw = source
        try:
            self.compression = compress.detect(_peek(self._raw, 4))
            self._stream = compress.open_decompressed(self._raw, self.compression)
            self._iter = self._open()
        except BaseException:
            self.close()
            raise

    # -- the stream -------------------------------------------------------------

    def _open(self) -> Iterator[Record]:
        buffer = self._buffer = Buffer(self._stream)
        try:
            buffer.fill(_PROBE)
        except StreamDamaged as exc:
            raise CorruptRecord(f"compressed data is damaged: {exc}", offset=0) from exc
        prefix = buffer.buf
        version = format.probe_version(prefix)
        if version is not None:
            self.version = version
            if version != format.FORMAT_VERSION:
                format.decode_header(prefix)  # raises UnknownFormat naming the version
            need = format.header_length(prefix) if len(prefix) >= 12 else 12
            buffer.fill(need)
            try:
                self.header = format.decode_header(buffer.buf)
                buffer.pos = self._state.good_end = self.header.size
            except CorruptRecord as exc:
                # The records carry their own checksums: read on from the first one.
                self._damaged(0, exc.message)
                buffer.resync(format.SYNC, len(format.MAGIC))
            return scan_v2(buffer, self._state, self._damaged, self.close)
        if shoebox_v1.looks_like_v1(prefix) and len(prefix) >= shoebox_v1.PREAMBLE.size:
            self.version = 1
            record_version = shoebox_v1.record_version(prefix)
            if record_version != shoebox_v1.V1_VERSION:
                raise UnknownFormat(f"shoebox record version {record_version} is not supported")
            return shoebox_v1.scan_v1(buffer, self._state, self._damaged)
        if not prefix:
            # An empty file holds no records in any format.
            self.version = 1
            return iter(())
        raise UnknownFormat(f"{self._name()} is not an archive of a known format")

    def _damaged(self, offset: int, reason: str) -> None:
        self.damage.append(Damage(offset, reason))
        log_event(
            logger, "archive.damaged", logging.WARNING, file=self._name(), offset=offset,
            reason=reason,
        )  # fmt: skip
        if self.strict:
            raise CorruptRecord(f"{self._name()}: {reason} at offset {offset}", offset=offset)

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "stream"

    def __iter__(self) -> Iterator[Record]:
        # Plain files need no guard, so the scanner itself is the iterator.
        return self._iter if self.compression is None else self._guarded()

    def _guarded(self) -> Iterator[Record]:
        while (record := self.read()) is not None:
            yield record
        self.close()

    def read(self) -> Record | None:
        """The next intact record, or None at the end of the file."""
        try:
            return next(self._iter)
        except StopIteration:
            return None
        except StreamDamaged as exc:
            self._iter = iter(())
            offset = self._buffer.base + len(self._buffer.buf)
            self._damaged(offset, f"compressed data is damaged: {exc}")
            return None

    # -- what was found ---------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        """True once the seal record that ends a complete archive has been read."""
        return self._state.sealed_count is not None

    @property
    def sealed_count(self) -> int | None:
        """The record count the seal record states (None if not sealed)."""
        return self._state.sealed_count

    @property
    def good_end(self) -> int:
        """Offset just past the last intact record read so far (or past the header)."""
        return self._state.good_end

    @property
    def torn_at(self) -> int | None:
        """Offset where the file ended inside a record, if it did."""
        return self._state.torn_at

    @property
    def end_offset(self) -> int:
        """Offset just past the last byte examined (the data end once fully read)."""
        return self._buffer.offset

    @property
    def created(self) -> float:
        """Creation time: from the header, or the file's mtime for format 1."""
        if self.header is not None:
            return self.header.created
        if self.path is not None:
            return self.path.stat().st_mtime
        return 0.0

    def close(self) -> None:
        """Close the file (a stream passed in is left open)."""
        raw = getattr(self, "_raw", None)
        if raw is not None and getattr(self, "path", None) is not None:
            raw.close()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _peek(raw: IO[bytes], size: int) -> bytes:
    if raw.seekable():
        start = raw.tell()
        data = raw.read(size)
        raw.seek(start)
        return data
    raise ArchiveError("archive streams must be seekable")


def read_archive(source: str | os.PathLike[str] | bytes, *, strict: bool = False) -> list[Record]:
    """All intact records of one archive (a path, or its bytes)."""
    stream: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    with ArchiveReader(stream, strict=strict) as reader:
        return list(reader)


@dataclass(frozen=True)
class Report:
    """The result of checking every record of one archive."""

    path: str
    version: int
    compression: str | None
    records: int
    sealed: bool
    damage: tuple[Damage, ...]

    @property
    def ok(self) -> bool:
        return not self.damage


def verify(source: str | os.PathLike[str] | IO[bytes]) -> Report:
    """Check every record of ``source`` (a path or a binary stream).

    A torn tail or a missing seal is damage here (a finished archive must be
    complete), except for files still marked open.
    """
    with ArchiveReader(source) as reader:
        count = sum(1 for _ in reader)
        damage = list(reader.damage)
        path = reader._name()
        still_open = path.endswith(OPEN_SUFFIX)
        if reader.end_offset == 0:
            damage.append(Damage(0, "empty file: no archive header"))
        if reader.torn_at is not None and not still_open:
            damage.append(Damage(reader.torn_at, "truncated: the file ends inside a record"))
        if reader.version >= 2 and not reader.sealed and not still_open and not damage:
            damage.append(Damage(reader.end_offset, "no seal record: the archive is incomplete"))
        if reader.sealed_count is not None and reader.sealed_count != count and not damage:
            damage.append(Damage(0, f"seal counts {reader.sealed_count} records, found {count}"))
        return Report(
            str(path), reader.version, reader.compression, count, reader.sealed, tuple(damage)
        )


def expand(patterns: Iterable[str | os.PathLike[str]], *, include_open: bool = False) -> list[Path]:
    """Files matching the glob ``patterns`` (or named directly), without duplicates."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        text = os.fspath(pattern)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        for match in matches:
            if os.path.isdir(match):
                continue
            if not include_open and match.endswith(OPEN_SUFFIX):
                continue
            found.setdefault(os.path.abspath(match), Path(match))
    return list(found.values())


def peek_header(path: Path) -> ArchiveHeader | None:
    """The format-2 header of ``path`` (None for format 1), reading only its start."""
    with open(path, "rb") as raw:
        stream = compress.open_decompressed(raw, compress.detect(_peek(raw, 4)))
        prefix = stream.read(_PROBE)
    if format.probe_version(prefix) is None:
        return None
    return format.decode_header(prefix)


def creation_key(path: Path) -> tuple[float, int, str]:
    """Sort key: header creation time and sequence, then the name."""
    try:
        header = peek_header(path)
        if header is not None:
            return (header.created, header.seq, path.name)
    except (ArchiveError, OSError, EOFError):
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
        on_open: Callable[[Path], Any] | None = None,
        on_close: Callable[[Path], Any] | None = None,
    ) -> None:
        if isinstance(patterns, str | os.PathLike):
            patterns = [patterns]
        self.paths = sorted(expand(patterns, include_open=include_open), key=creation_key)
        self.strict = strict
        self.damage: list[tuple[Path, Damage]] = []
        self._on_open = on_open
        self._on_close = on_close
        self._index = 0
        self._current: ArchiveReader | None = None

    def read(self) -> Record:
        """The next record of any file; raise :class:`NoMoreFiles` after the last."""
        while True:
            if self._current is None:
                if self._index >= len(self.paths):
                    raise NoMoreFiles()
                self._start(self.paths[self._index])
            assert self._current is not None
            record = self._current.read()
            if record is not None:
                return record
            self._finish_current()

    def _start(self, path: Path) -> None:
        self._current = ArchiveReader(path, strict=self.strict)
        if self._on_open is not None:
            self._on_open(path)

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
        while True:
            if self._current is None:
                if self._index >= len(self.paths):
                    return
                self._start(self.paths[self._index])
            assert self._current is not None
            yield self._current
            self._finish_current()

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def __enter__(self) -> ArchiveSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
