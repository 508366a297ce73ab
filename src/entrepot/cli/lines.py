"""Standard input as batches of lines, none of them lost to a stop signal.

A command that stores input lines (``entrepot archive write``) must store
every line it took from its input, even when SIGTERM or Ctrl-C stops it.
:class:`LineInput` reads what is available in one call and splits it into
complete lines; the caller takes and stores a batch inside
:func:`signals_held`, so a signal acts only between batches (or while the
command waits for input).  After a stop, :meth:`LineInput.rest_of_line`
completes the one line that the last read cut in two, if its end arrives
promptly.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

#: Most bytes taken from the input in one read.
CHUNK = 1 << 16
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}

Line = tuple[int, str | bytes]


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while inside; they act (raise) right after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class LineTooLong(ValueError):
    """A line went on past the longest a :class:`LineInput` holds."""

    def __init__(self, number: int, limit: int) -> None:
        super().__init__(f"line {number} runs past {limit:,} bytes without ending")
        self.number = number


class LineInput:
    """Numbered lines of a text stream, read in the batches they arrive.

    A line is kept in pieces until its end arrives (each read joined once, not
    the line so far copied again at every read), and no longer than ``limit``
    bytes: an input without newlines never fills the memory
    (:class:`LineTooLong`)."""

    def __init__(self, stream: IO[Any], *, limit: int | None = None) -> None:
        self.stream = stream
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None  # not a real file (an in-process test): read it whole
        self.limit = limit
        #: The start of a line whose end has not been read yet, in the pieces read.
        self._pieces: list[bytes] = []
        self._held = 0
        #: A line too long, found after lines that were returned: raised by the next take.
        self._failure: LineTooLong | None = None
        self.number = 0
        self.eof = False

    @property
    def pending(self) -> bytes:
        """The start of a line whose end has not been read yet."""
        if len(self._pieces) > 1:
            self._pieces = [b"".join(self._pieces)]
        return self._pieces[0] if self._pieces else b""

    def _hold(self, piece: bytes) -> None:
        """Keep ``piece`` as the start of the next line (LineTooLong past the limit)."""
        self._held += len(piece)
        if self.limit is not None and self._held > self.limit:
            self._pieces, self._held = [], 0
            raise LineTooLong(self.number + 1, self.limit)
        if piece:
            self._pieces.append(piece)

    def wait(self, timeout: float) -> bool:
        """True when input (or its end) is ready; False after ``timeout`` quiet seconds."""
        if self.fd is None or self.eof:
            return True
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def take(self) -> list[Line] | None:
        """The complete lines available now (bytes; a line at the very end too); None after."""
        if self._failure is not None:
            raise self._failure
        if self.eof:
            return None
        if self.fd is None:
            self.eof = True
            return self._numbered([line.rstrip("\n") for line in self.stream])
        chunk = os.read(self.fd, CHUNK)
        if not chunk:
            self.eof = True
            last, self._pieces, self._held = self.pending, [], 0
            return self._numbered([last]) if last else None
        if chunk.find(b"\n") < 0:
            self._hold(chunk)  # no line ends in it: none is lost if this raises
            return []
        *complete, rest = chunk.split(b"\n")
        if self._pieces:
            complete[0] = b"".join([*self._pieces, complete[0]])
            self._pieces, self._held = [], 0
        lines = self._within_limit(complete)
        if self._failure is None:
            try:
                self._hold(rest)
            except LineTooLong:
                self._failure = LineTooLong(self.number + len(lines) + 1, self.limit or 0)
        return self._numbered(lines)

    def _within_limit(self, lines: list[bytes]) -> list[bytes]:
        """``lines`` up to the first longer than the limit, which fails the next take."""
        if self.limit is None:
            return lines
        for index, line in enumerate(lines):
            if len(line) > self.limit:
                self._failure = LineTooLong(self.number + index + 1, self.limit)
                return lines[:index]
        return lines

    def rest_of_line(self, timeout: float = 1.0) -> list[Line]:
        """After a stop: the line the last read cut in two, if its end comes within ``timeout``.

        Reads one byte at a time, so nothing after that line is taken.  A
        line still incomplete after ``timeout`` stays in :attr:`pending`.
        """
        if self.fd is None or self.eof or not self.pending:
            return []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.fd], [], [], left)[0]:
                break
            byte = os.read(self.fd, 1)
            if byte in (b"\n", b""):
                line, self._pieces, self._held = self.pending, [], 0
                return self._numbered([line])
            self._hold(byte)
        return []

    def _numbered(self, lines: list[Any]) -> list[Line]:
        first = self.number + 1
        self.number += len(lines)
        return list(enumerate(lines, start=first))
