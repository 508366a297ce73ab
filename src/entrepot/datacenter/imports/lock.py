"""A lock held on one file's import for as long as the import runs.

A second process importing the same file at the same time is refused
instead of resuming a job that is still running; the kernel drops the lock
when a process dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from entrepot.errors import ImportBusy


class ImportLock:
    """An exclusive ``flock`` on ``folder/<key>.lock``; lock files stay in place.

    Removing a lock file could let two processes lock two different inodes
    under the same name, so the files are kept.
    """

    def __init__(self, folder: Path, key: str, what: str) -> None:
        self.path = folder / f"{key}.lock"
        self.what = what
        self.fd: int | None = None

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
            raise ImportBusy(
                f"{self.what!r} is being imported by another process right now"
            ) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
