"""Reading one archive file, and checking one.

:class:`ArchiveReader` opens one file of any supported kind: format 2 or
shoebox format 1, plain or compressed (recognised by content, never by
name).  It yields only records whose checksums match.  Each damaged span is
skipped and listed once in :attr:`ArchiveReader.damage` (or raises
:class:`~entrepot.errors.CorruptRecord` with ``strict=True``); a plain file
that ends inside a record — the torn tail of a crashed writer — simply
ends.  A compressed file exists only once its archive was sealed, so there
a missing end is damage.  :func:`verify` checks a whole file.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from entrepot import durable
from entrepot.archive import compress, format, shoebox_v1
from entrepot.archive.format import MAX_RECORD, ArchiveHeader, Record
from entrepot.archive.scan import ScanState, scan_v2
from entrepot.archive.stream import Buffer
from entrepot.errors import ArchiveError, CorruptRecord, UnknownFormat
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: Name suffix of an archive that is still being written.
OPEN_SUFFIX = ".open"
PROBE_SIZE = 4096
#: Damaged spans logged one by one per file; the others are counted in one summary line.
LOGGED_DAMAGE = 5


class Damage(NamedTuple):
    """One damaged span: its byte offset (in the uncompressed stream) and what is wrong."""

    offset: int
    reason: str
    #: How many bytes were passed over from ``offset`` (0 where nothing was skipped).
    skipped: int = 0


class ArchiveReader(ScanState):
    """Read the records of one archive file (or binary stream).

    ``source`` is a path or a readable, seekable binary file object.  Iterate
    over the reader, or call :meth:`read` until it returns None.  A record
    whose metadata and payload exceed ``max_record`` bytes is damage: the
    reader never holds a larger one in memory.  What the scan finds besides
    records (:class:`ScanState`: ``sealed_count``, ``torn_at``, ``good_end``)
    is kept on the reader itself.  A path is opened by :func:`open_file` (``follow``:
    through a symbolic link).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        strict: bool = False,
        max_record: int = MAX_RECORD,
        follow: bool = True,
    ) -> None:
        super().__init__(max_record)
        self.strict = strict
        self.damage: list[Damage] = []
        self.header: ArchiveHeader | None = None
        #: The format version (0 when no readable data was found at all).
        self.version = 0
        self._finished = False
        self._logged = 0
        if isinstance(source, str | os.PathLike):
            self.path: Path | None = Path(source)
            self._raw: IO[bytes] = open_file(source, follow=follow)
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
        buffer.fill(PROBE_SIZE)
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
                buffer.pos = self.good_end = self.header.size
            except CorruptRecord as exc:
                # The records carry their own checksums: read on from the first one.
                self._damaged(0, exc.message)
                buffer.resync(format.SYNC, len(format.MAGIC))
            return scan_v2(buffer, self, self._damaged, self._scan_over)
        if shoebox_v1.looks_like_v1(prefix) and len(prefix) >= shoebox_v1.PREAMBLE.size:
            self.version = 1
            record_version = shoebox_v1.record_version(prefix)
            if record_version != shoebox_v1.V1_VERSION:
                raise UnknownFormat(f"shoebox record version {record_version} is not supported")
            return self._v1(buffer)
        if not prefix:
            # An empty plain file holds no records in any format.
            self.version = 0 if self.compression else 1
            return iter(())
        if buffer.error is not None:
            return iter(())  # what could be decoded is no archive: the end check says why
        raise UnknownFormat(f"{self._name()} is not an archive of a known format")

    def _damaged(self, offset: int, reason: str, skipped: int = 0) -> None:
        last = self.damage[-1] if self.damage else None
        if last is not None and last.skipped and last.offset + last.skipped == offset:
            # Adjacent spans (one bad candidate after another) are one damaged span.
            self.damage[-1] = last._replace(skipped=last.skipped + skipped)
        else:
            self.damage.append(Damage(offset, reason, skipped))
            if len(self.damage) <= LOGGED_DAMAGE:
                log_event(
                    logger, "archive.damaged", logging.WARNING, file=self._name(), offset=offset,
                    reason=reason, skipped=skipped,
                )  # fmt: skip
        if self.strict:
            raise CorruptRecord(f"{self._name()}: {reason} at offset {offset}", offset=offset)

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "stream"

    def _v1(self, buffer: Buffer) -> Iterator[Record]:
        try:
            yield from shoebox_v1.scan_v1(buffer, self, self._damaged)
        finally:
            self._scan_over()

    def _scan_over(self) -> None:
        # A plain file is done with (a read error is reported); a compressed one is
        # still needed for the end check, which read() makes.
        if self.compression is None:
            self._finish()
            self.close()

    def __iter__(self) -> Iterator[Record]:
        # Plain files need no end check, so the scanner itself is the iterator.
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
            self._finish()
            return None

    def _finish(self) -> None:
        """At the end of the data: report what ended it early, and a compressed file's gaps."""
        if self._finished:
            return
        self._finished = True
        buffer = self._buffer
        end = buffer.offset
        if buffer.error is not None:
            error = buffer.error
            what = "compressed data is damaged" if self.compression else "the file cannot be read"
            self._damaged(end, f"{what}: {type(error).__name__}: {error}")
            return
        if self.compression is None:
            return
        missing = compress.zstd_incomplete(self._raw) if self.compression == "zstd" else None
        torn_at = self.torn_at
        if missing is not None:
            self._damaged(end, missing)
        elif torn_at is not None:
            self._damaged(torn_at, "truncated: the compressed archive ends inside a record")
        elif self.version >= 2 and not self.sealed and not self.damage:
            self._damaged(end, "no seal record: the compressed archive is incomplete")

    # -- what was found ---------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        """True once the seal record that ends a complete archive has been read."""
        return self.sealed_count is not None

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
        hidden = len(getattr(self, "damage", ())) - LOGGED_DAMAGE
        if hidden > 0 and self._logged < hidden:
            self._logged = hidden
            log_event(
                logger, "archive.damage_summary", logging.WARNING, file=self._name(),
                spans=len(self.damage), not_logged=hidden,
                skipped=sum(item.skipped for item in self.damage),
            )  # fmt: skip

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_file(path: str | os.PathLike[str], *, follow: bool = True) -> IO[bytes]:
    """The archive file at ``path``, open for reading: a regular file (a FIFO or a device
    under an archive's name is refused, never waited on), through a symbolic link only
    if ``follow``.  :class:`~entrepot.errors.ArchiveError` for what is refused."""
    try:
        fd = durable.open_regular(path, follow=follow)
    except durable.NotRegularFile as exc:
        raise ArchiveError(f"{Path(path).name} {exc.what}: not read") from None
    return os.fdopen(fd, "rb")


def _peek(raw: IO[bytes], size: int) -> bytes:
    if raw.seekable():
        start = raw.tell()
        data = raw.read(size)
        raw.seek(start)
        return data
    raise ArchiveError("archive streams must be seekable")


def read_archive(
    source: str | os.PathLike[str] | bytes, *, strict: bool = False, max_record: int = MAX_RECORD
) -> list[Record]:
    """All intact records of one archive (a path, or its bytes)."""
    stream: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    with ArchiveReader(stream, strict=strict, max_record=max_record) as reader:
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

    @classmethod
    def of(cls, reader: ArchiveReader) -> Report:
        """Read the rest of ``reader`` and judge the whole file (see :func:`verify`)."""
        count = sum(1 for _ in reader)
        damage = list(reader.damage)
        path = reader._name()
        complete = not path.endswith(OPEN_SUFFIX) and reader.compression is None
        if reader.torn_at is not None and complete:
            damage.append(Damage(reader.torn_at, "truncated: the file ends inside a record"))
        if reader.version >= 2 and not reader.sealed and complete and not damage:
            damage.append(Damage(reader.end_offset, "no seal record: the archive is incomplete"))
        if reader.end_offset == 0 and not damage:
            damage.append(Damage(0, "empty file: no archive header"))
        if reader.sealed_count is not None and reader.sealed_count != count and not damage:
            damage.append(Damage(0, f"seal counts {reader.sealed_count} records, found {count}"))
        return cls(path, reader.version, reader.compression, count, reader.sealed, tuple(damage))


def verify(source: str | os.PathLike[str] | IO[bytes], *, max_record: int = MAX_RECORD) -> Report:
    """Check every record of ``source`` (a path or a binary stream).

    A torn tail or a missing seal is damage here (a finished archive must be
    complete), except for files still marked open.  A file that is not an
    archive at all raises :class:`~entrepot.errors.UnknownFormat`.
    """
    with ArchiveReader(source, max_record=max_record) as reader:
        return Report.of(reader)
