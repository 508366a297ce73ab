"""The main loop's alarm clock: sleep until a deadline, or until anyone rings.

Signal handlers, the file-system hint thread and the lanes all wake the
main loop through :meth:`Waker.wake`, which writes one byte to a pipe — safe
from a signal handler, unlike taking a lock.  :meth:`Waker.wait` waits on
the pipe with ``select``, so an idle daemon sleeps in the kernel and costs
nothing between its timers.
"""

from __future__ import annotations

import contextlib
import os
import select

__all__ = ["Waker"]


class Waker:
    """A self-pipe: :meth:`wake` from anywhere, :meth:`wait` in the main loop."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        # A full pipe already holds a wake-up: losing this byte loses nothing.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"!")

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds (``None``: until woken); True if woken."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass
        return True

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
