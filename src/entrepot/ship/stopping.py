"""Stopping a run cleanly when the process is told to stop (Ctrl-C, SIGTERM).

Python raises the interrupt in the main thread, wherever it happens to be.
In the middle of a transfer that would leave things half done: a temporary
upload on the server, a claim in ``claimed/``, a lock file whose removal
fails on a connection left in the middle of a reply.  So the network work
of a run goes through :func:`shielded`: it runs in a thread of its own, the
main thread only waits, and an interrupt becomes a request to stop — take
no new file, finish the ones in hand (every call is bounded by the target's
timeout), release what is held — after which the interrupt goes on and the
run is recorded as interrupted.

A second Ctrl-C while waiting stops waiting: the process ends at once and
what was in flight is recovered by the next run (claims of a dead process
come back to ``new/`` at once; temporary uploads are swept).  A second
SIGTERM is ignored (see :mod:`entrepot.interrupts`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.ship")

_T = TypeVar("_T")


def shielded(work: Callable[[], _T], stop: Callable[[], None], *, name: str) -> _T:
    """Return ``work()``, run in a worker thread; an interrupt meanwhile calls ``stop()``.

    The interrupt (``KeyboardInterrupt``, or :class:`~entrepot.interrupts.Terminated`)
    is raised again once ``work`` has returned; it wins over any error of ``work``.
    """
    outcome: list[tuple[bool, object]] = []
    finished = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome.append((False, exc))
        finally:
            finished.set()

    # Waited for on an event, not with Thread.join(): a join cut short by the
    # interrupt marks the thread finished while it still runs (CPython 3.11).
    thread = threading.Thread(target=run, name=name, daemon=True)
    interrupted: KeyboardInterrupt | None = None
    started = False
    while not finished.is_set():
        try:
            if not started:
                started = True
                thread.start()
            finished.wait(0.5)
        except KeyboardInterrupt as exc:
            if interrupted is not None:
                raise  # asked twice: stop waiting
            interrupted = exc
            log_event(logger, "ship.stopping", logging.WARNING, reason=type(exc).__name__)
            stop()
    if interrupted is not None:
        raise interrupted
    ok, value = outcome[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]
