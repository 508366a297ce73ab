"""The receipts file shared by every put: one file for many processes, taken whole.

A program that puts files one at a time (an ``entrepot spool put`` per
file, a :class:`~entrepot.spool.Spool` opened per request with
``provenance=STATE``) left a journal per put, and the next command to open
the ledger read, recorded and deleted them one by one: about 60 µs a
journal, and a state folder holding a file per put until then.  A spool's
receipts now go to one file, :data:`SHARED` in the journals' folder, that
every writer appends to; the next recorder takes it whole and reads it as
the journal of one put of many files.  The other writers that record an
arrival without the ledger (``entrepot dc upload``, ``dc retire``, an
archive writer's seals) share another, :data:`ARRIVALS`, the same way.

* **Writing** (:class:`SharedJournal`): the file is opened for appending
  (never through a symbolic link), and each line is written in one call
  under an exclusive ``flock`` taken for that write alone — after checking
  that the path still names the file the writer holds open; if not, the
  file was taken, and the writer opens the new one.  Each line starts with
  a newline of its own: the tail of a line torn by a writer's death (the
  only line it can tear) then stands alone, and the reader skips it.
* **Taking** (:func:`take`): the file is renamed to a journal's name, then
  its lock is taken once: a write begun before the rename ends first, and
  none goes into it afterwards (its writer finds the path changed).  From
  there it is a dead journal like any other (:mod:`.recovery`): recorded,
  marked recovered, deleted — or kept for a shipment's commit when it holds
  receipts alone (:mod:`.held`), as it does.

A writer waits at most :data:`PATIENCE` seconds for the lock: one held
longer belongs to a writer stopped in the middle of its line (Ctrl-Z, a
debugger), and the waiting writer's lines go to a journal of its own
instead (``provenance.shared_busy``), recorded as any dead journal.

A writer that finds the file past :data:`LIMIT` bytes as it opens it takes
it out of the way itself, so that no journal grows without bound while no
command opens the ledger.  Only receipts are written here: lines with no
step announced (:class:`~.journal.Then`) and no delivery templates, whose
numbers (each writer's own) need not be unique across writers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from entrepot.logs import log_event
from entrepot.provenance.journal import JOURNAL_DIR, SUFFIX, Arrivals, Journal, Row, line_of

__all__ = [
    "ARRIVALS",
    "LIMIT",
    "PATIENCE",
    "SHARED",
    "SHARED_FILES",
    "SharedJournal",
    "take",
    "take_all",
]

logger = logging.getLogger(__name__)

#: The shared receipts file's name in the journals' folder (not a journal's: the
#: releases before this one leave it alone).
SHARED = "receipts.shared"
#: The shared file of the other arrivals that writers without the ledger record
#: (``dc upload``, ``dc retire``, archives): apart, so that the receipts' file holds
#: receipts alone, which a shipment keeps for its commit.
ARRIVALS = "arrivals.shared"
#: Every shared file, taken by :func:`take_all`.
SHARED_FILES = (SHARED, ARRIVALS)
#: Bytes past which a writer opening the file takes it out of the way (about 60,000
#: receipts: read whole by the recorder that takes it).
LIMIT = 16 * 1024 * 1024
#: Times a write looks for the current file before giving up (each one found taken).
_TRIES = 100
#: Seconds :func:`take` waits for a write begun before its rename.
_WAIT = 2.0
#: Seconds a writer waits for the file's lock before it writes to a journal of its own.
PATIENCE = 5.0


class SharedJournal(Arrivals):
    """A writer of receipts to the state folder's shared file (:meth:`arrived`, or
    :meth:`append`); thread-safe."""

    def __init__(self, state_dir: str | os.PathLike[str], name: str = SHARED) -> None:
        self.folder = Path(state_dir) / JOURNAL_DIR
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.folder / name
        self.seq = 0
        self._fd: int | None = None
        #: The open file's device and inode, to compare with what the path names.
        self._id: tuple[int, int] | None = None
        self._lock = threading.Lock()
        #: Where the lines go once the file's lock was held too long by another writer.
        self._own: Journal | None = None

    def append(self, rows: Sequence[Row]) -> int:
        """Append the events ``rows`` (of one file) as one line; return its number."""
        with self._lock:
            if self._own is not None:
                return self._own.append(rows)
            self.seq += 1
            if not self._write(b"\n" + line_of(self.seq, rows)):
                # A writer stopped while it held the lock (Ctrl-Z, a debugger): not waited
                # for longer; this writer's lines go to a journal of its own, as each put's
                # did before the shared file.
                log_event(logger, "provenance.shared_busy", logging.WARNING, path=str(self.path))
                self._release()
                self._own = Journal(self.folder.parent)
                return self._own.append(rows)
            return self.seq

    def _write(self, line: bytes) -> bool:
        """Write ``line`` to the current file; False if its lock stayed taken."""
        for _ in range(_TRIES):
            fd = self._open()
            if not _locked(fd, PATIENCE):
                return False
            try:
                if self._current():
                    _write_all(fd, line)
                    return True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._release()  # taken since it was opened: write to the new one
        raise OSError(f"{self.path}: taken away {_TRIES} times in a row while being written")

    def _open(self) -> int:
        """The shared file, open for appending (opened, or taken away if past :data:`LIMIT`
        and opened anew, if need be)."""
        while self._fd is None:
            # Never through a link; a FIFO put in its place fails at once, not waits.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
            fd = os.open(self.path, flags | os.O_CLOEXEC, 0o600)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(fd)
                raise OSError(f"{self.path}: not a regular file")
            self._fd, self._id = fd, (info.st_dev, info.st_ino)
            if info.st_size > LIMIT and self._current():
                _rename_away(self.path)
                self._release()
        return self._fd

    def _current(self) -> bool:
        """Whether the path still names the file open here."""
        try:
            info = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (info.st_dev, info.st_ino) == self._id

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._id = None

    def __enter__(self) -> SharedJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (every line is in it already), and the journal of this writer's
        own if it wrote to one (left to be recorded)."""
        with self._lock:
            self._release()
            if self._own is not None:
                self._own.close(remove=False)
                self._own = None


def _locked(fd: int, seconds: float) -> bool:
    """Take the lock of ``fd``, waiting at most ``seconds``; whether it was."""
    deadline, pause = time.monotonic() + seconds, 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` whole (lock held: a short write's rest follows it directly)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _rename_away(path: Path) -> Path | None:
    """Rename ``path`` to a fresh journal's name beside it; None if it is gone."""
    target = path.with_name(f"{secrets.token_hex(8)}{SUFFIX}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def take_all(folder: str | os.PathLike[str]) -> list[Path]:
    """Take every shared file in the journals' ``folder`` (:func:`take`)."""
    return [path for name in SHARED_FILES if (path := take(folder, name)) is not None]


def take(folder: str | os.PathLike[str], name: str = SHARED) -> Path | None:
    """Take the shared file ``name`` in the journals' ``folder``, renamed to a journal's name
    (which is returned), once no write into it is under way; None if there is none.

    A write still under way after :data:`_WAIT` seconds (its writer stopped)
    keeps the journal locked: the recorder that scans the folder finds it
    alive, and a later one takes it.
    """
    path = Path(folder) / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        log_event(logger, "provenance.shared_refused", logging.WARNING, path=str(path))
        return None
    target = _rename_away(path)
    if target is None:
        return None  # another recorder took it
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # recorded and deleted already by a recorder that scanned meanwhile
        return target
    try:
        if not _locked(fd, _WAIT):
            return target
        if os.fstat(fd).st_size == 0:  # created, taken before its first line: nothing in it
            target.unlink(missing_ok=True)
            return None
    finally:
        os.close(fd)
    return target
