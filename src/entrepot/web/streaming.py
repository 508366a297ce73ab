"""Downloads written as they are read, and how many may run at once.

A download as long as a route's whole delivery history (a receipt with no
``since``) is never built in memory: its text is read a page of rows at a
time and sent in blocks of :data:`BLOCK` bytes as it comes
(:func:`blocks`, :class:`Streamed`).  Memory stays that of one page
whatever the history's length; its time does not, so :class:`Slots` bounds
how many such downloads run at once — one more is told to come back (503),
and the pages the others use keep their pace.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["BLOCK", "Slots", "Streamed", "blocks"]

#: Bytes gathered before they are sent: one write per block, not per line.
BLOCK = 64 * 1024


class Slots:
    """At most ``size`` holders at once; one more is refused rather than made to wait
    (a client waiting in line would hold its connection for nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._held = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a slot: False when all are held."""
        with self._lock:
            if self._held >= self.size:
                return False
            self._held += 1
            return True

    def give(self) -> None:
        """Give a slot back (once per :meth:`take` that succeeded)."""
        with self._lock:
            self._held = max(0, self._held - 1)

    @property
    def held(self) -> int:
        return self._held


def blocks(pieces: Iterable[str], size: int = BLOCK) -> Iterator[bytes]:
    """``pieces`` as UTF-8, gathered into blocks of about ``size`` bytes.

    A byte of a file name that was not UTF-8 (a lone surrogate) is written as
    that byte, as ``entrepot receipt`` writes it into a file.
    """
    gathered: list[bytes] = []
    held = 0
    for piece in pieces:
        data = piece.encode("utf-8", "surrogateescape")
        gathered.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(gathered)
            gathered, held = [], 0
    if gathered:
        yield b"".join(gathered)


class Streamed(StreamingResponse):
    """A streamed answer that calls ``done`` when it ends, however it ends (sent whole,
    the client gone, an error while reading), and closes its source then."""

    def __init__(
        self,
        source: Iterator[bytes],
        done: Callable[[], None],
        *,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(source, media_type=media_type, headers=headers)
        self._source = source
        self._done = done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._done()
            close = getattr(self._source, "close", None)
            if close is not None:
                # A generator still running in a worker thread cannot be closed: it ends
                # at its next step, which no one asks for.
                with contextlib.suppress(ValueError):
                    close()
