"""Lanes: one worker thread per route, fetch or chore, running its work one run at a time.

The daemon's main thread only decides *when* (timers, file-system hints,
scans, the backlog) and kicks the lane; the lane runs the work in its own
thread, so a slow target never delays another route.  Kicks that come while
a run is in progress are merged into one follow-up run: a burst of arrivals
costs one extra run, not one per file.

Stopping a lane (:meth:`Lane.stop`) takes no further run and calls the
work's ``interrupt`` so that the run in progress finishes what it holds and
ends early; :meth:`Lane.join` waits for it within the grace period.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.service")

__all__ = ["Lane", "Work"]


class Work(Protocol):
    """What a lane runs."""

    def run(self, trigger: str) -> None:
        """One run, started by ``trigger`` (``arrival``, ``every``, ``cron``, ``backlog``…)."""

    def interrupt(self) -> None:
        """Ask the run in progress (in the lane's thread) to stop soon; any thread calls it."""


class Lane:
    """A worker thread that runs ``work`` when kicked, never two runs at once."""

    def __init__(self, name: str, work: Work) -> None:
        self.name = name
        self.work = work
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._stopping = False
        self._running = False
        self._finished = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._loop, name=f"entrepot-{name}", daemon=True)

    def start(self) -> Lane:
        self._thread.start()
        return self

    def kick(self, trigger: str) -> None:
        """Run once more as soon as the lane is free (kicks in between are merged)."""
        with self._cond:
            if self._stopping:
                return
            if self._pending is None:
                self._pending = trigger
            self._cond.notify()

    @property
    def busy(self) -> bool:
        """True while a run is in progress or one is waiting to start."""
        with self._cond:
            return self._running or self._pending is not None

    def replace(self, work: Work) -> None:
        """Use ``work`` from the next run on (a reloaded configuration)."""
        with self._cond:
            self.work = work

    def stop(self) -> None:
        """Take no more runs; ask the one in progress to finish early."""
        with self._cond:
            self._stopping = True
            self._pending = None
            running, work = self._running, self.work
            self._cond.notify()
        if running:
            work.interrupt()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the lane's thread has ended; False if it still runs after ``timeout``."""
        return self._finished.wait(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is in progress or pending (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running or self._pending is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while self._pending is None and not self._stopping:
                        self._cond.wait()
                    if self._stopping or self._pending is None:
                        return
                    trigger, self._pending = self._pending, None
                    self._running, work = True, self.work
                try:
                    work.run(trigger)
                except KeyboardInterrupt:
                    return  # told to stop in the middle of a run: it was recorded as interrupted
                except Exception as exc:  # noqa: BLE001 - a lane must outlive any one run
                    log_event(logger, "service.lane_failed", logging.ERROR, lane=self.name,
                              error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                finally:
                    with self._cond:
                        self._running = False
                        self.runs += 1
                        self._cond.notify_all()
        finally:
            self._finished.set()
