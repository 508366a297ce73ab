"""A piece of work done every few seconds in a thread of its own: heartbeats, lease renewals.

The instance's heartbeat (:mod:`entrepot.service.heartbeat`) and the lease
keeper of a one-shot command (:mod:`entrepot.jobs.keeper`) both renew what
they hold on a timer, away from the work they keep alive: a slow database
never delays the work, and a tick that fails (the database is down) is
logged once and tried again at the next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from entrepot.logs import log_event

__all__ = ["Ticker"]


class Ticker:
    """Calls ``tick`` every ``every()`` seconds (asked again each time) until :meth:`stop`.

    ``failed`` and ``back`` are the events logged to ``logger`` when ticks
    start failing and when one succeeds again.
    """

    def __init__(
        self,
        tick: Callable[[], object],
        every: Callable[[], float],
        *,
        name: str,
        logger: logging.Logger,
        failed: str,
        back: str,
    ) -> None:
        self.tick = tick
        self.every = every
        self.logger = logger
        self.failed = failed
        self.back = back
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self, *, at_once: bool = True) -> Ticker:
        """Start ticking; ``at_once``: a first tick now, in the caller's thread."""
        if at_once:
            self.tick_logged()
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking (a tick in progress ends first, for up to ``timeout`` seconds)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every()):
            self.tick_logged()

    def tick_logged(self) -> None:
        """One tick; a failure is logged (once while they go on), never raised."""
        try:
            self.tick()
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            if not self._failing:
                log_event(self.logger, self.failed, logging.ERROR,
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            self._failing = True
            return
        if self._failing:
            log_event(self.logger, self.back)
        self._failing = False
