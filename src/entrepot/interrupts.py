"""SIGTERM handled like Ctrl-C: one clean-up path for both.

Service managers, ``timeout`` and container runtimes stop a program with
SIGTERM, and a user with Ctrl-C (SIGINT).  Both must leave everything in
order — archives sealed, claims released, jobs recorded as interrupted — so
the command line turns SIGTERM into :class:`Terminated`, a
:class:`KeyboardInterrupt`: every ``except KeyboardInterrupt`` and
``finally`` written for Ctrl-C runs for it too, and the command exits 143
(128 + SIGTERM) instead of 130.

Only the first SIGTERM raises; later ones are ignored, so a supervisor
repeating the signal cannot cut the clean-up short (SIGKILL still can, and
the crash-safety of each part covers that).  Python delivers signals to the
main thread only: code with worker threads catches the exception in the main
thread and tells its workers to stop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["SigtermState", "Terminated", "sigterm_raises"]


class Terminated(KeyboardInterrupt):
    """Stopped by SIGTERM."""


class SigtermState:
    """Whether a SIGTERM arrived (a framework may have turned it into an exit code)."""

    received: bool = False


@contextmanager
def sigterm_raises() -> Iterator[SigtermState]:
    """While inside, the first SIGTERM raises :class:`Terminated` in the main thread.

    Outside the main thread (an embedding program) this does nothing: only
    the main thread may set signal handlers.
    """
    state = SigtermState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def _handler(signum: int, frame: FrameType | None) -> None:
        if state.received:
            return
        state.received = True
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)
