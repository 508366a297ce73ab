"""Hashing behind the reads: a large file's chunks hashed in a pool thread, in order.

A tap (:mod:`.tap`) hashes what an upload reads.  Done in the reading
thread, the hash of a large file comes on top of its transfer: SHA-256
runs at some 1.8 GB/s, slower than the kernel copies a file to a local
folder, so large files to a local folder took 15–30 % longer with their
checksum than without.  :class:`Behind` hands each chunk to a small pool
of threads instead, one pass's chunks hashed in order by one pool thread
at a time, while the reading thread reads, sends and writes on; the hash
releases the interpreter's lock, so it runs beside the transfer on
another processor.  :meth:`Behind.settle` waits until every chunk given is
hashed — before the digest is read.

Hashing on another processor costs more processor time than hashing the
bytes just read (they travel between the processors' caches), and it
gains nothing when transfers in parallel keep every processor busy: a
process hashes at most :data:`PASSES` passes behind their reads at once
(half its processors), the others as they read (:func:`hasher_for`).
Measured on 2 processors (3 files of 64 MiB to a local folder, one at a
time, medians of 8 rounds): 0.48–0.50 s hashed behind the reads, 0.53–0.55 s
as they are read, 0.41–0.42 s without a checksum.  With four transfers at
once (24 files of 8 MiB) the time is the same either way; hashing every
file behind its reads cost 10 % more processor time for it, hence the
limit.

Bytes that an upload sends without reading them through the tap —
``sendfile`` over plain FTP, an S3 client that reads a multipart upload's
file by its name — pass through no Python to be hashed:
:meth:`Behind.add_span` hashes them by reading the file beside the
transfer, through a descriptor of its own, instead of once more after it.

At most :data:`WAITING` chunks of a pass wait for their hash: a reader
that is ahead waits for the hash to catch up (what it holds in memory
stays a few chunks, whatever the file's size).  A chunk is ``bytes``,
which nobody can change while it waits; a pool that can take no more work
(the interpreter ending) leaves the chunks to the caller's thread.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["PASSES", "WAITING", "Behind", "hasher_for"]

#: Chunks of one pass that may wait for their hash.
WAITING = 4
#: Passes hashed behind their reads at once, in a process: half its processors.
PASSES = max(1, (os.cpu_count() or 1) // 2)
_passes = threading.BoundedSemaphore(PASSES)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _hashers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(PASSES, thread_name_prefix="entrepot-hash")
        return _pool


def _after_fork() -> None:
    # A child does not have its parent's threads: it makes a pool of its own.
    global _pool, _pool_lock, _passes
    _pool, _pool_lock, _passes = None, threading.Lock(), threading.BoundedSemaphore(PASSES)


def hasher_for(digest: Any) -> Behind | None:
    """A :class:`Behind` for a new pass hashed into ``digest`` — None if :data:`PASSES`
    passes are hashed behind already (this one is hashed as it is read).  Its place is
    given back by :meth:`Behind.release`, or once it is no longer referenced."""
    passes = _passes
    if not passes.acquire(blocking=False):
        return None
    behind = Behind(digest)
    behind._place = weakref.finalize(behind, passes.release)
    return behind


os.register_at_fork(after_in_child=_after_fork)

#: A stretch of a file to hash by reading it: a descriptor of its own, start, bytes.
Span = tuple[int, int, int]
#: Bytes read at a time from a span.
_READ = 1024 * 1024


def _close(chunk: bytes | Span) -> None:
    """Close the descriptor of a span never read (a chunk of bytes has none)."""
    if isinstance(chunk, tuple):
        os.close(chunk[0])


class Behind:
    """The chunks of one pass of a file, hashed into ``digest`` in the order given."""

    __slots__ = ("__weakref__", "_chunks", "_done", "_failed", "_place", "_running", "digest")

    def __init__(self, digest: Any) -> None:
        self.digest = digest
        self._chunks: deque[bytes | Span] = deque()
        self._done = threading.Condition(threading.Lock())
        #: A pool thread hashes this pass's chunks (or is about to).
        self._running = False
        #: A hash failed: the digest is not of the bytes given.
        self._failed = False
        #: Gives back this pass's place among the :data:`PASSES` (:func:`hasher_for`).
        self._place: weakref.finalize[Any, Any] | None = None

    @property
    def failed(self) -> bool:
        return self._failed

    def add_span(self, fd: int, start: int, size: int) -> None:
        """Hash ``size`` bytes of the file open as ``fd`` from ``start``, read by position
        through a copy of the descriptor (``fd`` may be closed meanwhile), after the
        chunks given before; fewer bytes in the file fail the pass."""
        self.add((os.dup(fd), start, size))

    def add(self, chunk: bytes | Span) -> None:
        """Hash ``chunk`` after the chunks given before it (waits while :data:`WAITING`
        chunks wait)."""
        with self._done:
            while len(self._chunks) >= WAITING:
                self._done.wait()
            if self._failed:
                _close(chunk)
                return  # the digest is of no use any more
            self._chunks.append(chunk)
            if self._running:
                return
            self._running = True
        try:
            _hashers().submit(self._drain)
        except RuntimeError:  # the interpreter is ending: no new threads
            self._drain()

    def _drain(self) -> None:
        """Hash the waiting chunks in order until none is left (in a pool thread)."""
        chunks, done = self._chunks, self._done
        try:
            while True:
                with done:
                    if not chunks:
                        self._running = False  # in the same hold as the test: none is missed
                        done.notify_all()
                        return
                    chunk = chunks[0]  # bytes stay counted as waiting until hashed
                    if not isinstance(chunk, bytes):
                        chunks.popleft()  # a span: its descriptor is this thread's to close
                if isinstance(chunk, bytes):
                    self.digest.update(chunk)
                    with done:
                        chunks.popleft()
                        done.notify_all()
                else:
                    self._read(chunk)
        except BaseException as exc:
            with done:
                self._failed = True
                for chunk in chunks:
                    _close(chunk)
                chunks.clear()
                self._running = False
                done.notify_all()
            if not isinstance(exc, Exception):
                raise  # (an error of the hash itself only spoils the checksum)

    def _read(self, span: Span) -> None:
        """Hash a span by reading it; its descriptor is closed after, whatever happens."""
        fd, at, size = span
        try:
            end = at + size
            while at < end:
                data = os.pread(fd, min(_READ, end - at), at)
                if not data:
                    raise EOFError(f"the file ended {end - at} bytes short of what was sent")
                self.digest.update(data)
                at += len(data)
        finally:
            os.close(fd)

    def settle(self) -> None:
        """Wait until every chunk given is hashed (or a hash failed)."""
        with self._done:
            while self._running:
                self._done.wait()

    def release(self) -> None:
        """The pass is over: give back its place at once, not when it is collected (the
        pool thread that hashed it may still hold it for a moment)."""
        if self._place is not None:
            self._place()
