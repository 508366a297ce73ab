"""A lock held on one file's import for as long as the import runs.

A second process importing the same file at the same time is refused
instead of resuming a job that is still running.  Two locks make it so:

* an exclusive ``flock`` on a file of the data center's state folder — the
  kernel drops it when a process dies, so a crashed run never blocks the
  next one;
* on PostgreSQL, also a session advisory lock on the file's key, held on a
  connection of its own: the instances of a fleet importing from a shared
  upload area (on a network file system, where ``flock`` may not reach
  other hosts) exclude each other through the database, and PostgreSQL
  drops the lock when the holder's connection ends — a killed worker's
  included — so another instance resumes its import from its last
  committed chunk.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from entrepot.errors import ImportBusy

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from entrepot.datacenter.database import Database


class ImportLock:
    """An exclusive ``flock`` on ``folder/<key>.lock`` (and on PostgreSQL an advisory
    lock on ``key``); lock files stay in place.

    Removing a lock file could let two processes lock two different inodes
    under the same name, so the files are kept.  ``key`` is a hexadecimal digest.
    """

    def __init__(self, folder: Path, key: str, what: str, db: Database | None = None) -> None:
        self.path = folder / f"{key}.lock"
        self.what = what
        self.fd: int | None = None
        self.db = db if db is not None and db.is_postgres else None
        # PostgreSQL's advisory locks take a signed 64-bit number.
        self._number = int(key[:16], 16) - (1 << 63)
        self._session: Connection | None = None

    def _busy(self) -> ImportBusy:
        return ImportBusy(f"{self.what!r} is being imported by another process right now")

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ImportBusy` if another process holds it."""
        if self.fd is not None:
            return
        self.path.parent.mkdir(exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._busy() from None
        try:
            self._lock_database()
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def _lock_database(self) -> None:
        if self.db is None:
            return
        session = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = session.exec_driver_sql(
                "SELECT pg_try_advisory_lock(%(key)s)", {"key": self._number}
            ).scalar()
        except BaseException:
            session.close()
            raise
        if not taken:
            session.close()
            raise self._busy()
        self._session = session

    def release(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": self._number})
            except Exception:  # noqa: BLE001 - a connection that is gone took the lock with it
                session.invalidate()
            finally:
                session.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
