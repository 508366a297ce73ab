"""The one read/write loop every target moves data with, and the hashes built on it.

:func:`copy_stream` copies block by block from any ``read(n)`` to any
``write(data)`` and reports each block to a progress callback.  The
callback is also how a call proves it is alive: the base class renews the
call's deadline (:mod:`entrepot.targets.deadline`) on every block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import IO

__all__ = ["BLOCK", "Progress", "copy_stream", "digest_of", "md5_like"]

#: Called with the number of bytes moved since the previous call.
Progress = Callable[[int], None]

#: Bytes per read and write unless a backend chooses otherwise.
BLOCK = 1024 * 1024


def copy_stream(
    read: Callable[[int], bytes],
    write: Callable[[bytes], object],
    *,
    size: int | None = None,
    blocksize: int = BLOCK,
    progress: Progress | None = None,
) -> int:
    """Copy until ``read`` returns nothing (or ``size`` bytes); return the bytes copied."""
    copied = 0
    while size is None or copied < size:
        want = blocksize if size is None else min(blocksize, size - copied)
        chunk = read(want)
        if not chunk:
            break
        write(chunk)
        copied += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return copied


def digest_of(src: IO[bytes], start: int, algorithm: str) -> str:
    """The hex digest of ``src`` from ``start`` to its end; ``src`` is left at ``start``."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    src.seek(start)
    copy_stream(src.read, digest.update)
    src.seek(start)
    return digest.hexdigest()


def md5_like(src: IO[bytes], start: int, like: str) -> str | None:
    """The local checksum in the same ``algo:hex`` form as ``like`` (None if unknown)."""
    if not like.startswith("md5:"):
        return None
    return "md5:" + digest_of(src, start, "md5")
