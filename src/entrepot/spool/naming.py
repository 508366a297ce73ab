"""Names for spool files, unique without a lock, and free names for finished files."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

logger = logging.getLogger(__name__)


_counter = itertools.count()
# The host name as socket.gethostname() gives it, without importing socket (slow to import).
_host = re.sub(r"[^A-Za-z0-9_-]", "_", os.uname().nodename) or "localhost"
# The process id, kept up to date across fork() so that names stay unique in children.
_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


def unique_name(suffix: str = "") -> str:
    """A name unique among every process on every host, made without a lock.

    Maildir style: microseconds since the epoch, then the process id and a
    per-process counter, then the host; names made in a later microsecond sort later.
    """
    return f"{time.time_ns() // 1000:017d}.P{_pid}Q{next(_counter)}.{_host}{suffix}"


def free_name(folder: str, name: str) -> str:
    """``folder/name``, or ``folder/name~2``, ``~3``… when that is taken."""
    candidate = os.path.join(folder, name)
    for number in itertools.count(2):
        if not os.path.lexists(candidate):
            return candidate
        candidate = os.path.join(folder, f"{name}~{number}")
    raise AssertionError("unreachable")
