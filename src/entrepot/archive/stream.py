"""A read-ahead window over a (possibly decompressed) archive stream.

The scanners parse records out of this in-memory window instead of making
one read call per record; ``Buffer.fill`` grows it only as far as the
record being parsed needs, so its size is bounded by the largest record a
reader accepts plus one chunk.
"""

from __future__ import annotations

from typing import Protocol

#: How much is read from the stream at a time: small enough that the records
#: are still in the processor's cache when they are parsed.
CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Buffer:
    """A read-ahead window over a stream; ``base`` is the offset of ``buf[0]``."""

    def __init__(self, stream: Readable, *, chunk: int = CHUNK) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.eof = False
        self.chunk = chunk
        #: Why the stream ended early: data a decompressor could not decode, a read error.
        self.error: Exception | None = None

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False if the stream ends first.

        A stream that cannot be read further ends there, as if it had no more
        data; :attr:`error` says why, for the reader to report as damage.
        """
        while len(self.buf) - self.pos < need and not self.eof:
            try:
                chunk = self.stream.read(max(self.chunk, need - (len(self.buf) - self.pos)))
            except Exception as exc:  # noqa: BLE001 - any decoder's failure is damage
                self.error = exc
                self.eof = True
                break
            if not chunk:
                self.eof = True
                break
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return len(self.buf) - self.pos >= need

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def resync(self, marker: bytes, start: int) -> bool:
        """Move to the next ``marker`` at or after buffer index ``start``; False at the end."""
        while True:
            found = self.buf.find(marker, start)
            if found >= 0:
                self.pos = found
                return True
            # Keep a possible partial marker at the end of the window.
            self.pos = max(start, len(self.buf) - len(marker) + 1)
            if self.eof or not self.fill(len(self.buf) - self.pos + 1):
                self.pos = len(self.buf)
                return False
            start = self.pos
