"""Backlog hold-offs: a route whose job waits in the backlog waits for it.

When a run of a route or fetch fails all its tries, its job waits in the
backlog until the back-off of ``[service.backlog]`` has passed; the route's
timers and arrivals wait until then too, so a target that is down is not
tried on every new file.  When the hold ends, the route is kicked and its run
joins the waiting job.  A job parked as dead holds its route for the longest
back-off (``max_delay``) between tries: the service keeps trying, slowly,
while an operator looks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from entrepot.jobs import Clock, JobState, Ledger, RunResult
from entrepot.service.schedule import Scheduler

__all__ = ["Holds"]


class Holds:
    """When each held lane (``route:NAME``, ``fetch:NAME``) may run again; thread-safe."""

    def __init__(
        self,
        scheduler: Scheduler,
        clock: Clock,
        max_delay: Callable[[], float],
        wake: Callable[[], None],
    ) -> None:
        self.scheduler = scheduler
        self.clock = clock
        self.max_delay = max_delay
        self.wake = wake
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def after_run(self, key: str, result: RunResult) -> None:
        """Hold ``key`` while the job its run left waits in the backlog (lift it otherwise)."""
        until: datetime | None = None
        if result.state == JobState.BACKLOG and result.next_due is not None:
            until = result.next_due
        elif result.state == JobState.DEAD:
            until = self.clock.now() + timedelta(seconds=self.max_delay())
        self.hold(key, until)

    def hold(self, key: str, until: datetime | None) -> None:
        self.scheduler.hold(key, until)
        with self._lock:
            if until is None:
                self._until.pop(key, None)
            else:
                self._until[key] = until
        self.wake()

    def expired(self) -> list[str]:
        """The lanes whose hold has just ended (their hold is lifted)."""
        now = self.clock.now()
        with self._lock:
            over = [key for key, until in self._until.items() if until <= now]
            for key in over:
                del self._until[key]
        for key in over:
            self.scheduler.hold(key, None)
        return over

    def seconds_to_next(self) -> float | None:
        with self._lock:
            if not self._until:
                return None
            earliest = min(self._until.values())
        return (earliest - self.clock.now()).total_seconds()

    def from_ledger(self, ledger: Ledger, owners: Mapping[str, str]) -> None:
        """At start: lanes whose job waits in the backlog (or is dead) keep waiting for it."""
        now = self.clock.now()
        wait = timedelta(seconds=self.max_delay())
        for identity, key in owners.items():
            for job in ledger.open_jobs(identity):
                if job.state == JobState.BACKLOG and job.next_due is not None:
                    if job.next_due > now:
                        self.hold(key, job.next_due)
                elif job.state == JobState.DEAD and job.updated_at + wait > now:
                    self.hold(key, job.updated_at + wait)
