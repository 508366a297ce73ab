"""Writing one archive file: append records, flush durably, seal under the final name.

While it is written, an archive lives under its final name plus ``.open``
and is locked (``flock``) by its writer, so recovery never touches a file
whose writer is alive.  :meth:`ArchiveWriter.seal` appends the seal record,
syncs, and renames the file to its final name; a reader globbing for final
names never sees a half-written archive.
"""

from __future__ import annotations

import fcntl
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
from entrepot.errors import ArchiveClosed, ConfigError
from entrepot.logs import log_event

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
    which must not exist (an earlier archive is never truncated).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sync: Sync | str = "roll",
        writer_id: str | None = None,
        seq: int = 0,
        buffer_size: int = 1 << 16,
    ) -> None:
        self.path = Path(path)
        self.open_path = self.path.with_name(self.path.name + OPEN_SUFFIX)
        self.sync: Sync = check_sync(sync)
        self.archive_id = uuid.uuid4()
        self.created_ns = time.time_ns()
        self.writer_id = writer_id or default_writer_id()
        self.seq = seq
        self.records = 0
        self.closed = False
        self.opened_at = self.last_write_at = self._last_sync = time.monotonic()
        fd = os.open(self.open_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            # Held until the process ends: recovery skips files whose writer is alive.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            header = format.encode_header(self.created_ns, seq, self.archive_id, self.writer_id)
            os.write(fd, header)
            os.fsync(fd)
            durable.fsync_dir(self.open_path.parent)
        except BaseException:
            os.close(fd)
            self.open_path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self._file = open(fd, "wb", buffering=buffer_size, closefd=False)  # noqa: SIM115
        self._write = self._file.write
        self.size = len(header)
        log_event(logger, "archive.opened", path=self.open_path)

    def write(self, metadata: dict[str, str], payload: Any) -> int:
        """Append one record; return its offset."""
        if self.closed:
            raise ArchiveClosed(f"{self.path.name} is sealed")
        data = encode_record(metadata, payload)
        offset = self.size
        self._write(data)
        self.size = offset + len(data)
        self.records += 1
        now = self.last_write_at = monotonic()
        sync = self.sync
        if sync != "roll" and (sync == "record" or (now - self._last_sync) * 1000 >= sync):
            self.flush()
        return offset

    def flush(self) -> None:
        """Make every record written so far durable."""
        if self.closed:
            return
        self._file.flush()
        os.fsync(self._fd)
        self._last_sync = time.monotonic()

    def tick(self) -> None:
        """Sync now if an interval sync is due (for callers that go idle)."""
        if type(self.sync) is int and (time.monotonic() - self._last_sync) * 1000 >= self.sync:
            self.flush()

    def finish(self) -> None:
        """Append the seal record and sync; the file keeps its open name."""
        if self.closed:
            return
        self._file.write(format.encode_seal(self.records, time.time_ns()))
        self._file.flush()
        os.fsync(self._fd)
        self._file.close()
        self.closed = True

    def seal(self, final: str | os.PathLike[str] | None = None) -> Path:
        """Finish the archive and rename it to ``final`` (default: its own name).

        Raise FileExistsError if that name is taken; the file then stays open-named.
        """
        self.finish()
        target = Path(final) if final is not None else self.path
        durable.publish(self.open_path, target)
        self.release()
        log_event(logger, "archive.sealed", path=target, records=self.records, size=self.size)
        return target

    def release(self) -> None:
        """Drop the lock on the file (after it was sealed or handed on)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def abort(self) -> None:
        """Stop writing without sealing: the open file stays for recovery."""
        if not self.closed:
            try:
                self._file.flush()
            finally:
                self._file.close()
                self.closed = True
        self.release()
