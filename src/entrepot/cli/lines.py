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


class LineInput:
    """Numbered lines of a text stream, read in the batches they arrive."""

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None  # not a real file (an in-process test): read it whole
        #: The start of a line whose end has not been read yet.
        self.pending = b""
        self.number = 0
        self.eof = False

    def wait(self, timeout: float) -> bool:
        """True when input (or its end) is ready; False after ``timeout`` quiet seconds."""
        if self.fd is None or self.eof:
            return True
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def take(self) -> list[Line] | None:
        """The complete lines available now (bytes; a line at the very end too); None after."""
        if self.eof:
            return None
        if self.fd is None:
            self.eof = True
            return self._numbered([line.rstrip("\n") for line in self.stream])
        chunk = os.read(self.fd, CHUNK)
        if not chunk:
            self.eof = True
            last, self.pending = self.pending, b""
            return self._numbered([last]) if last else None
        *complete, self.pending = (self.pending + chunk).split(b"\n")
        return self._numbered(complete)

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
                line, self.pending = self.pending, b""
                return self._numbered([line])
            self.pending += byte
        return []

    def _numbered(self, lines: list[Any]) -> list[Line]:
        first = self.number + 1
        self.number += len(lines)
        return list(enumerate(lines, start=first))
