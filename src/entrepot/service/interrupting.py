"""Stopping runs that work in the daemon's threads, so that they are recorded as interrupted.

A signal reaches the main thread only; the runs work in lane threads.  When
the daemon stops, each run in progress is asked to stop: a shipping or
fetching route takes no new file and finishes the ones in hand
(:meth:`entrepot.ship.Route.stop`), a retry wait ends at once.  The run then
raises :class:`~entrepot.interrupts.Terminated` in its own thread, and the
runner records it as *interrupted* with its job due again — exactly what
happens to a one-shot ``entrepot ship`` stopped by SIGTERM.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from entrepot.errors import JobFailed
from entrepot.interrupts import Terminated
from entrepot.jobs import Clock, Job, JobContext, RetryPolicy, SystemClock

__all__ = ["StopAware", "StoppableClock"]


class StoppableClock:
    """A clock whose :meth:`sleep` ends with :class:`Terminated` once ``stopping`` is set."""

    def __init__(self, clock: Clock, stopping: threading.Event) -> None:
        self.clock = clock
        self.stopping = stopping

    def now(self) -> datetime:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        if isinstance(self.clock, SystemClock):
            stopped = self.stopping.wait(max(0.0, seconds))
        else:
            # An injected clock (a test's) keeps its own idea of waiting.
            self.clock.sleep(seconds)
            stopped = self.stopping.is_set()
        if stopped:
            raise Terminated()


class StopAware(Job):
    """Runs ``inner`` step by step; once ``stopping`` is set, stops it and raises Terminated.

    The runner sees the kind, parameters and identity of ``inner``: what the
    ledger keeps rebuilds ``inner`` itself.
    """

    def __init__(self, inner: Job, stopping: threading.Event) -> None:
        self.inner = inner
        self.stopping = stopping

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.inner.kind

    @property
    def retry_steps(self) -> Any:  # type: ignore[override]
        return self.inner.retry_steps

    @property
    def name(self) -> str:
        return self.inner.name

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def identity(self) -> str | None:
        return self.inner.identity()

    def retry_policy(self) -> RetryPolicy | None:
        return self.inner.retry_policy()

    def defers(self, error: BaseException) -> bool:
        return self.inner.defers(error)

    def interrupt(self) -> None:
        """Tell ``inner`` to take no new work (any thread)."""
        route = getattr(self.inner, "route", None)
        if route is not None:
            route.stop()

    def _check(self) -> None:
        if self.stopping.is_set():
            raise Terminated()

    def prepare(self, ctx: JobContext) -> None:
        self._check()
        self.inner.prepare(ctx)

    def produce(self, ctx: JobContext) -> int:
        self._check()
        return self.inner.produce(ctx)

    def send(self, ctx: JobContext) -> None:
        self._check()
        self.inner.send(ctx)
        if self.stopping.is_set() and self._left_over():
            # Stopped in the middle: what was left waits for the next run.
            raise Terminated()

    def _left_over(self) -> bool:
        """Whether the run left work undone (a shipment: files still in ``new/``)."""
        pending = getattr(getattr(self.inner, "route", None), "pending", None)
        return bool(pending()) if callable(pending) else True

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        self.inner.cleanup(ctx, error)
