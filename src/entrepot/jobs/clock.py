"""Time as a dependency: the clock a job runner reads and sleeps on.

Retry delays, budgets and backlog due dates all go through a :class:`Clock`,
so that tests (ours and users') can run minutes of back-off in microseconds
with :class:`FakeClock`, and so that production code never calls
``time.sleep`` behind the caller's back.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the job machinery needs to know about time."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never go backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a non-positive value returns at once)."""
        ...


class SystemClock:
    """The real clock of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: The one real clock; the default everywhere a clock is optional.
SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that only moves when told to: ``sleep`` advances it at once.

    Every sleep is recorded in :attr:`sleeps`, so a test can assert the exact
    delays a retry policy chose.  Safe to share between threads.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        #: Every delay passed to :meth:`sleep`, in order.
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._elapsed += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._elapsed += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now().isoformat()})"
