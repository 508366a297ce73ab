"""A file's SHA-256 taken from the reads of its upload: the bytes are read once, not twice.

Provenance records each shipped file's checksum.  Read again just for it,
a small file costs a second system call and a second pass under the
interpreter's lock per file — as much as the rest of its record.  A
:class:`Tap` is handed to :meth:`~entrepot.targets.base.Target.upload`,
which reads the file through :meth:`Tap.wrap`: every byte the backend
reads in order from the start is hashed as it passes.

A backend that needs the hash of what it sends reads it with
:func:`read_hashed` and is given the tap's: S3 signs each request with its
body's SHA-256, which is the file's, so the file is hashed once, not twice.

A larger file's chunks of :data:`BEHIND` bytes or more are hashed by a
pool thread while the upload reads on (:mod:`.behind`): the hash runs
beside the transfer instead of after each read.  A backend that needs the
digest at once (S3's signature) has its chunks hashed as they are read.

The digest stands only if it covers the whole file read in order.  A
backend that goes back to the start (to compute its own checksum before
sending, or to try again) starts the digest again, keeping the last one
that read the whole file — the checks of an upload (a checksum compared,
the content verified) read the file past the tap; any other jump leaves
it incomplete, and :meth:`Tap.checksum` says so (None): the caller reads
the file itself then.  Bytes the kernel sends without passing through
Python — ``sendfile`` over a plain FTP socket, an S3 client that reads
the file by its name for a multipart upload — are hashed by reading the
file beside the transfer (:func:`sent_past`), or, when no hasher is free,
they too leave the digest incomplete.

A small file (:data:`WHOLE` bytes or fewer, most of what is shipped) is
not read through a wrapper: :meth:`Tap.wrap` reads it whole at once,
hashes it, and gives the upload a stream over those bytes in memory.  The
upload's reads, retries and seeks then cost no Python of the tap's, every
pass sends the bytes that were hashed, and nothing goes past the tap
(``sendfile`` needs a file: FTP sends them itself).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import IO, Any, cast

from entrepot.targets.behind import Behind, hasher_for

__all__ = ["BEHIND", "WHOLE", "Tap", "read_hashed", "sent_past"]

# hashlib lets other threads run while it hashes more than 2 KiB; for a small
# block the handover costs more than the hash, so it is fed in pieces below that.
_UNLOCKED = 2047
_SMALL = 64 * 1024
#: A file of at most this many bytes is read whole by :meth:`Tap.wrap` (module docstring).
WHOLE = 64 * 1024
#: A chunk read of at least this many bytes is hashed behind the reads (:mod:`.behind`).
BEHIND = 128 * 1024


class Tap:
    """The SHA-256 of ``size`` bytes, fed by the reads of the stream :meth:`wrap` returns."""

    __slots__ = (
        "_at", "_behind", "_complete", "_digest", "_kernel", "_now", "_start", "_whole", "size",
    )  # fmt: skip

    def __init__(self, size: int) -> None:
        self.size = size
        self._digest = hashlib.sha256()
        #: This pass's chunks hashed by a pool thread, once one was large enough.
        self._behind: Behind | None = None
        #: This pass hashes every chunk as it is read (the reader needs the digest at
        #: once, or other passes are hashed behind already).
        self._now = False
        #: The stretch the kernel sends while it is read beside (``sendfile`` moves the
        #: stream within it as it goes).
        self._kernel: tuple[int, int] | None = None
        self._start = 0
        self._at = 0
        #: False once the reads left the order (until they start again).
        self._whole = True
        #: The digest of an earlier pass that read the whole file.
        self._complete: Any = None

    def wrap(self, src: IO[bytes], position: int | None = None) -> IO[bytes]:
        """``src`` as read from its current position, every read hashed; ``position``:
        that position, when the caller knows it (asking the stream is a system call).

        A file of at most :data:`WHOLE` bytes is read whole now and hashed: the stream
        returned holds its bytes (the module docstring).
        """
        self._start = self._at = src.tell() if position is None else position
        if self.size <= WHOLE:
            data = src.read(self.size)  # a regular file gives them in one read
            self._fed(data)
            held = _Held(data)
            held.tap = self
            return held
        # The type as text: ``IO[bytes]`` written out is made again at every call.
        return cast("IO[bytes]", _Tapped(src, self))

    def checksum(self) -> str | None:
        """``"sha256:<hex>"`` if exactly the ``size`` bytes were read, in order; else None
        (asked once the upload is over: a pass hashed behind its reads ends here)."""
        behind = self._behind
        if behind is not None:
            self._settle()
            behind.release()
        digest = self._digest if self._read_whole() else self._complete
        return None if digest is None else "sha256:" + digest.hexdigest()

    def _settle(self) -> None:
        """Wait for the chunks hashed behind the reads; a hash that failed spoils the pass."""
        behind = self._behind
        if behind is not None:
            behind.settle()
            if behind.failed:
                self._whole = False

    def _read_whole(self) -> bool:
        return self._whole and self._at - self._start == self.size

    def _unread(self) -> bool:
        """Nothing read yet in this pass: the digest is of nothing."""
        return self._whole and self._at == self._start

    def _fed(self, data: bytes | memoryview) -> None:
        if not data or self._kernel is not None:
            # (bytes sent past the tap and read beside it: a sendfile that fell back on
            # reading the file through this stream)
            return
        behind = self._behind
        if behind is None and len(data) >= BEHIND and not self._now and type(data) is bytes:
            behind = self._behind = hasher_for(self._digest)
            self._now = behind is None  # (asked once a pass)
        if behind is not None:
            if type(data) is bytes:
                behind.add(data)
                self._at += len(data)
                return
            self._settle()  # a chunk that may change (a caller's buffer): in order, now
        if len(data) <= _SMALL:
            view = memoryview(data)
            for offset in range(0, len(view), _UNLOCKED):
                self._digest.update(view[offset : offset + _UNLOCKED])
        else:
            self._digest.update(data)
        self._at += len(data)

    def _beside(self, fd: int, start: int, size: int) -> Callable[[int], None] | None:
        """The upload is about to send ``size`` bytes of ``fd`` from ``start`` without
        reading them through this tap (``sendfile``, a client that reads the file by its
        name): hash them by reading them beside it (:meth:`.behind.Behind.add_span`) if
        this pass is read in order up to there and a hasher is free; return what to call
        with the bytes sent (else None: they pass unhashed, and the checksum says so)."""
        if self._now or not self._whole or self._at != start:
            return None
        behind = self._behind
        if behind is None:
            behind = self._behind = hasher_for(self._digest)
            if behind is None:
                self._now = True
                return None
        behind.add_span(fd, start, size)
        self._kernel = (start, start + size)

        def sent(count: int) -> None:
            self._kernel = None
            if count != size:
                self._whole = False  # what was read beside is not what was sent
            self._at += count

        return sent

    def _moved(self, position: int) -> None:
        kernel = self._kernel
        if kernel is not None and kernel[0] <= position <= kernel[1]:
            return  # sendfile moving the stream past what it sent (read beside)
        if position == self._start:
            if self._unread():
                return  # an upload seeks to its start before it reads
            self._settle()
            if self._read_whole():  # a pass that read it all (a retry reads it again)
                self._complete = self._digest
            if self._behind is not None:
                self._behind.release()
            self._digest, self._at, self._whole = hashlib.sha256(), position, True
            self._behind, self._now = None, False
        elif position != self._at:
            self._whole = False


def sent_past(src: IO[bytes], start: int, size: int) -> Callable[[int], None]:
    """Tell a tap's stream (from :meth:`Tap.wrap`) that ``size`` bytes of its file from
    ``start`` are about to be sent without being read through it: it hashes them by
    reading the file beside the transfer (:meth:`Tap._beside`).  Call what is returned
    with the bytes sent (0 if the transfer failed).  Any other stream: nothing to do."""
    tapped: object = src
    if not isinstance(tapped, _Tapped):
        return _unhashed
    return tapped._tap._beside(tapped._src.fileno(), start, size) or _unhashed


def _unhashed(count: int) -> None:
    """Bytes sent past a stream with no tap, or that its tap could not read beside."""


def read_hashed(src: IO[bytes], size: int) -> tuple[bytes, str | None]:
    """Read ``size`` bytes of ``src``; with their SHA-256 in hexadecimal when a tap took
    it as they passed (``src`` from :meth:`Tap.wrap`, read from the start of a pass),
    else None — for a backend that needs the hash of what it sends (S3's signature),
    so that a file is hashed once."""
    if isinstance(src, _Held):
        whole = src.tell() == 0
        data = src.read(size)
        # The digest is of the bytes held: of this body if it is all of them.
        tap = src.tap
        held = whole and len(data) == tap._at - tap._start
        return data, tap._digest.hexdigest() if held else None
    tapped: object = src  # a _Tapped stands in for a stream without subclassing one
    if not isinstance(tapped, _Tapped):
        return src.read(size), None
    tap = tapped._tap
    tap._now = True  # the digest is wanted as soon as the body is read
    tap._settle()
    whole = tap._unread()  # then the digest will be of exactly what this reads
    data = tapped.read(size)
    return data, tap._digest.hexdigest() if whole else None


class _Held(io.BytesIO):
    """The bytes of a small file, read whole by its :class:`Tap` (which hashed them)."""

    __slots__ = ("tap",)
    tap: Tap


class _Tapped:
    """A readable stream over another, telling its :class:`Tap` what is read and where.

    Made once per file shipped, so a plain object (an :class:`io.IOBase` costs
    ten times as much to make): what it does not define is the stream's own —
    a read through one of those passes the tap by, and :meth:`Tap.checksum`
    says so.
    """

    __slots__ = ("_src", "_tap")

    def __init__(self, src: IO[bytes], tap: Tap) -> None:
        self._src = src
        self._tap = tap

    def read(self, size: int | None = -1) -> bytes:
        data = self._src.read(-1 if size is None else size)
        self._tap._fed(data)
        return data

    read1 = read

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._src, "readinto", None)
        if readinto is None:  # a stream without it: read, then copy
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        count = int(readinto(buffer) or 0)
        self._tap._fed(memoryview(buffer)[:count])
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self._src.seek(offset, whence)
        self._tap._moved(position)
        return position

    def tell(self) -> int:
        # Asked by every upload: here, not through __getattr__, which Python calls only
        # after the attribute was looked for everywhere else and not found.
        return self._src.tell()

    def __getattr__(self, name: str) -> Any:
        # fileno, name, seekable…: the stream's.  Whoever reads through its
        # descriptor (sendfile) reads past the tap: the count shows it.
        return getattr(self._src, name)

    def close(self) -> None:
        """Nothing: the stream it reads belongs to the caller, who closes it."""

    def __enter__(self) -> _Tapped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
