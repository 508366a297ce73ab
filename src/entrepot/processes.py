"""Is a process of this host still alive?  Used to take over what a dead one held."""

from __future__ import annotations

import os
import zlib


def process_gone(pid: int) -> bool:
    """True when no live process of this host has ``pid``.

    A killed process that nobody reaped (a zombie) still answers ``kill(0)``,
    so its state is read from ``/proc`` too.  Unsure means alive: the caller
    then falls back to waiting for a lease or a timeout.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def host_tag() -> int:
    """A 16-bit tag of this host's name, to tell our own processes from other hosts'."""
    # uname's node name is what socket.gethostname() returns, without importing socket.
    return zlib.crc32(os.uname().nodename.encode()) & 0xFFFF
