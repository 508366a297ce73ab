"""Writing one archive file: append records, flush durably, seal under the final name.

While it is written, an archive lives under its final name plus ``.open``
and is locked (``flock``) by its writer, so recovery never touches a file
whose writer is alive.  :meth:`ArchiveWriter.seal` appends the seal record,
syncs, and renames the file to its final name; a reader globbing for final
names never sees a half-written archive.

The writer keeps the records not yet written to the file in its own buffer
and knows to the byte what the file holds, so a failed write (a full disk)
never leaves the file and the caller disagreeing: a :meth:`write` that
raises left nothing of its record in the archive (the file is cut back if
part of it got there), one that returned is kept — in the file, or in the
buffer until the next write, flush or seal succeeds.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from entrepot import durable
from entrepot.archive import format
from entrepot.archive.format import encode_record
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.errors import ArchiveClosed, ConfigError, InvalidName
from entrepot.logs import log_event
from entrepot.names import MAX_NAME_BYTES, shortened

logger = logging.getLogger(__name__)
monotonic = time.monotonic

#: When written records are made durable: after every record, only when the
#: archive is sealed, or at the first write at least this many ms after the last sync.
Sync = Literal["record", "roll"] | int


def check_sync(value: Sync | str) -> Sync:
    """Normalise a sync setting: ``record``, ``roll``, or milliseconds (``250`` or ``250ms``)."""
    if value in ("record", "roll"):
        return value
    text = str(value).strip().lower().removesuffix("ms")
    if isinstance(value, bool) or not text.isdigit():
        raise ConfigError(f"sync must be 'record', 'roll' or a number of ms, not {value!r}")
    return int(text)


def default_writer_id() -> str:
    """``host:pid`` — names the process that wrote an archive."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ArchiveWriter:
    """Append records to one new archive file.

    ``path`` is the final name; the file is written as ``path + ".open"``,
    which must not exist (an earlier archive is never truncated) and must fit
    a file system's 255 bytes (:class:`~entrepot.errors.InvalidName`).  ``hashed``
    keeps the SHA-256 of every byte written in :attr:`digest` (None again
    if a failed append had to be cut back out of the file), so that the
    archive's checksum is known without reading it back.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sync: Sync | str = "roll",
        writer_id: str | None = None,
        seq: int = 0,
        buffer_size: int = 1 << 16,
        max_record: int = format.MAX_RECORD,
        hashed: bool = False,
    ) -> None:
        self.path = Path(path)
        self.open_path = self.path.with_name(_fitting(self.path.name + OPEN_SUFFIX))
        self.sync: Sync = check_sync(sync)
        self.archive_id = uuid.uuid4()
        self.created_ns = time.time_ns()
        self.writer_id = writer_id or default_writer_id()
        self.seq = seq
        self.records = 0
        self.closed = False
        self.buffer_size = buffer_size
        self.max_record = max_record
        self.opened_at = self.last_write_at = self._last_sync = time.monotonic()
        fd = os.open(self.open_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            # Held until released: recovery skips files whose writer is alive.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            header = format.encode_header(self.created_ns, seq, self.archive_id, self.writer_id)
            _write_all(fd, header)
            self.digest: Any = hashlib.sha256(header) if hashed else None
            os.fsync(fd)
            durable.fsync_dir(self.open_path.parent)
        except BaseException:
            os.close(fd)
            self.open_path.unlink(missing_ok=True)
            raise
        self._fd = fd
        #: Encoded records not written to the file yet.
        self._pending = bytearray()
        #: Bytes in the file (the header and whole records, never part of one for long).
        self._written = len(header)
        #: Bytes of the archive, written or pending.
        self.size = len(header)
        log_event(logger, "archive.opened", path=self.open_path)

    @property
    def pending(self) -> int:
        """Bytes of records accepted but not yet written to the file."""
        return len(self._pending)

    def write(self, metadata: dict[str, str], payload: Any) -> int:
        """Append one record; return its offset.

        If this raises, the record is not in the archive; once it returns,
        the record is kept (durable at the next sync, as ``sync`` says).
        """
        if self.closed:
            raise ArchiveClosed(f"{self.path.name} is sealed")
        data = encode_record(metadata, payload, self.max_record)
        offset = self.size
        try:
            pending = self._pending
            pending += data
            self.size = offset + len(data)
            now = self.last_write_at = monotonic()
            sync = self.sync
            if sync != "roll" and (sync == "record" or (now - self._last_sync) * 1000 >= sync):
                self._drain()
                self._fsync()
            elif len(pending) >= self.buffer_size:
                self._drain()
            self.records += 1
        except BaseException:
            self._withdraw(offset)
            raise
        return offset

    def _drain(self) -> None:
        """Write the pending bytes to the file (what was written stays written on failure)."""
        pending = self._pending
        while pending:
            written = os.write(self._fd, pending)
            if self.digest is not None:
                with memoryview(pending) as view:  # released before the buffer shrinks
                    self.digest.update(view[:written])
            del pending[:written]
            self._written += written

    def _fsync(self) -> None:
        os.fsync(self._fd)
        self._last_sync = monotonic()

    def _withdraw(self, offset: int) -> None:
        """Take everything from ``offset`` on back out of the archive (a failed append)."""
        if self._written > offset:
            # Part of the failed append reached the file: cut it off again.
            os.ftruncate(self._fd, offset)
            os.lseek(self._fd, offset, os.SEEK_SET)
            self._written = offset
            self.digest = None  # it saw bytes no longer there
            self._pending.clear()
        else:
            del self._pending[offset - self._written :]
        self.size = offset

    def flush(self) -> None:
        """Make every record written so far durable (raise OSError if the disk refuses)."""
        if self.closed:
            return
        self._drain()
        self._fsync()

    def tick(self) -> None:
        """Sync now if an interval sync is due (for callers that go idle)."""
        if type(self.sync) is int and (monotonic() - self._last_sync) * 1000 >= self.sync:
            self.flush()

    def finish(self) -> None:
        """Append the seal record and sync; the file keeps its open name.

        On failure the seal is taken back out and the archive stays open for
        more records or another try.
        """
        if self.closed:
            return
        offset = self.size
        seal = format.encode_seal(self.records, time.time_ns())
        try:
            self._pending += seal
            self.size = offset + len(seal)
            self._drain()
            self._fsync()
        except BaseException:
            self._withdraw(offset)
            raise
        self.closed = True

    def seal(self, final: str | os.PathLike[str] | None = None) -> Path:
        """Finish the archive and rename it to ``final`` (default: its own name).

        Raise FileExistsError if that name is taken; the file then stays open-named.
        A name longer than a file system takes is refused (:class:`InvalidName`)
        before the archive is finished: it stays open for more records.
        """
        target = Path(final) if final is not None else self.path
        _fitting(target.name)  # refused while the archive can still take records
        self.finish()
        durable.publish(self.open_path, target)
        self.release()
        log_event(logger, "archive.sealed", path=target, records=self.records, size=self.size)
        return target

    def release(self) -> None:
        """Drop the lock on the file (after it was sealed, handed on or given up)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        # A writer dropped without being sealed or aborted writes what it holds (for
        # recovery to seal) and must not keep its file locked.
        if getattr(self, "_fd", -1) >= 0:
            try:
                self.abort()
            except OSError:
                self.release()

    def abort(self) -> None:
        """Stop writing without sealing: the open file stays for recovery.

        Pending records are written if the disk lets them; they are lost
        otherwise (they were never durable).
        """
        try:
            if not self.closed and self._fd >= 0:
                self._drain()
        finally:
            self.closed = True
            self.release()


def _fitting(name: str) -> str:
    """``name`` if a file system takes it: :class:`~entrepot.errors.InvalidName` otherwise
    (rather than an ``ENAMETOOLONG`` half way through)."""
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        raise InvalidName(
            f"archive file name {shortened(name)} is longer than {MAX_NAME_BYTES} bytes"
        )
    return name


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
