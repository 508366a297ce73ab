"""The one read/write loop every target moves data with, and the hashes built on it.

:func:`copy_stream` copies block by block from any ``read(n)`` to any
``write(data)`` and reports each block to a progress callback.  The
callback is also how a call proves it is alive: the base class renews the
call's deadline (:mod:`entrepot.targets.deadline`) on every block.
:func:`send_stream` is the same loop onto a socket, where the kernel copies
a regular file itself (``sendfile``).
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import stat
from collections.abc import Callable
from typing import IO, Protocol

from entrepot.targets.tap import sent_past

__all__ = [
    "BLOCK", "Hasher", "Progress", "copy_stream", "digest_of", "md5_like", "send_stream",
]  # fmt: skip

#: Called with the number of bytes moved since the previous call.
Progress = Callable[[int], None]


class Hasher(Protocol):
    """What a :mod:`hashlib` object offers a transfer: fed the bytes as they pass."""

    def update(self, data: bytes, /) -> None: ...


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


def send_stream(
    sock: socket.socket, src: IO[bytes], *, size: int, blocksize: int, progress: Progress
) -> int:
    """Send ``size`` bytes of ``src`` (from its position) down ``sock``; return the bytes sent.

    From a regular file over a plain socket the kernel moves the data
    (``sendfile``), which spares the copies through Python; over TLS, which
    encrypts in this process, or from a stream without a file behind it,
    block by block with ``sendall``.  Each block is reported to
    ``progress`` either way.
    """
    if isinstance(sock, ssl.SSLSocket) or not _regular_file(src):
        return copy_stream(
            src.read, sock.sendall, size=size, blocksize=blocksize, progress=progress
        )
    start = src.tell()
    told = sent_past(src, start, size)  # a tap hashes them, reading beside
    sent = 0
    try:
        while sent < size:
            # Leaves src at start + sent; a file that shrank meanwhile sends less.
            moved = sock.sendfile(src, start + sent, min(blocksize, size - sent))
            if not moved:
                break
            sent += moved
            progress(moved)
    finally:
        told(sent)
    return sent


def _regular_file(src: IO[bytes]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(src.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False  # io.BytesIO and the like: no descriptor


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
