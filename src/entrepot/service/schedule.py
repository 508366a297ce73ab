"""When each route and fetch is due: interval and cron timers, and backlog hold-offs.

A :class:`Scheduler` reads time from an injected
:class:`~entrepot.jobs.Clock`, so a test moves a
:class:`~entrepot.jobs.FakeClock` by hours and sees exactly the runs that
fall due, without waiting::

    >>> from datetime import UTC, datetime
    >>> from entrepot.jobs import FakeClock
    >>> clock = FakeClock(datetime(2026, 3, 1, 1, 59, tzinfo=UTC))
    >>> scheduler = Scheduler(clock, tz=UTC)
    >>> scheduler.set("nightly", Triggers(cron="0 2 * * *"))
    >>> scheduler.set("often", Triggers(every=600))
    >>> scheduler.due()                     # an interval runs at start
    [('often', 'every')]
    >>> clock.advance(60)
    >>> scheduler.due()
    [('nightly', 'cron')]
    >>> scheduler.next_due("often").isoformat()
    '2026-03-01T02:09:00+00:00'

``every`` runs at start and then on a fixed rate from there (a run that
falls due while the previous one still works is taken once it ends; missed
slots are not made up one by one).  Its intervals are measured on the
clock's monotonic time, so a wall clock stepped back (an NTP correction, a
virtual machine resumed) neither stops an interval route nor runs it early.
``cron`` follows the five-field expression in the time zone given (the
host's by default): it follows the wall clock.  A route whose
job waits in the backlog is *held* until that job is due: its timers fire
then, not before, so a target that is down is not hammered on every tick.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from cronsim import CronSim

from entrepot.jobs.clock import Clock

__all__ = ["Scheduler", "Triggers"]


@dataclass(frozen=True)
class Triggers:
    """What starts a run: new files, an interval (seconds), a cron expression — any mix."""

    on_arrival: bool = False
    every: float | None = None
    cron: str | None = None

    @classmethod
    def of(cls, entry: Any) -> Triggers:
        """The triggers of a route or fetch section of the configuration."""
        return cls(
            on_arrival=bool(getattr(entry, "on_arrival", False)),
            every=entry.every,
            cron=entry.cron,
        )


@dataclass
class _Entry:
    triggers: Triggers
    #: The next ``every`` slot, on the clock's monotonic seconds (never the wall clock).
    every_at: float | None = None
    cron_at: datetime | None = None
    held_until: datetime | None = None
    cron: Iterator[datetime] | None = None


class Scheduler:
    """Interval and cron timers of named entries, on an injected clock; thread-safe."""

    def __init__(self, clock: Clock, *, tz: tzinfo | None = None) -> None:
        self.clock = clock
        self.tz = tz
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _ticks(self) -> float:
        return self.clock.monotonic()

    def _local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz) if self.tz is not None else when.astimezone()

    def set(self, name: str, triggers: Triggers) -> None:
        """Add ``name``, or change its triggers (unchanged triggers keep their timers)."""
        with self._lock:
            old = self._entries.get(name)
            if old is not None and old.triggers == triggers:
                return
            now = self.clock.now()
            entry = _Entry(triggers, held_until=old.held_until if old else None)
            if triggers.every is not None:
                keep = old is not None and old.triggers.every == triggers.every
                entry.every_at = old.every_at if keep and old is not None else self._ticks()
            if triggers.cron is not None:
                entry.cron = CronSim(triggers.cron, self._local(now))
                entry.cron_at = next(entry.cron)
            self._entries[name] = entry

    def remove(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def hold(self, name: str, until: datetime | None) -> None:
        """Fire no timer of ``name`` before ``until`` (``None`` lifts the hold)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                entry.held_until = until

    def held(self, name: str) -> bool:
        """True while ``name`` waits for its backlog job to be due."""
        with self._lock:
            entry = self._entries.get(name)
            return entry is not None and self._is_held(entry, self.clock.now())

    @staticmethod
    def _is_held(entry: _Entry, now: datetime) -> bool:
        return entry.held_until is not None and now < entry.held_until

    def due(self) -> list[tuple[str, str]]:
        """The entries whose timer has come, with which (``every``/``cron``); timers move on."""
        now, ticks = self.clock.now(), self._ticks()
        fired: list[tuple[str, str]] = []
        with self._lock:
            for name, entry in self._entries.items():
                if self._is_held(entry, now):
                    continue
                trigger = None
                if entry.every_at is not None and entry.every_at <= ticks:
                    trigger = "every"
                    entry.every_at = _next_slot(entry.every_at, entry.triggers.every, ticks)
                if entry.cron_at is not None and entry.cron_at <= now:
                    trigger = trigger or "cron"
                    entry.cron_at = self._next_cron(entry, now)
                if trigger is not None:
                    fired.append((name, trigger))
        return fired

    def _next_cron(self, entry: _Entry, now: datetime) -> datetime | None:
        assert entry.cron is not None and entry.triggers.cron is not None
        following = next(entry.cron, None)
        if following is not None and following <= now:
            # Missed slots (a long hold, a sleeping machine) are not made up one by one.
            entry.cron = CronSim(entry.triggers.cron, self._local(now))
            following = next(entry.cron, None)
        return following

    def next_due(self, name: str) -> datetime | None:
        """When ``name`` next runs on a timer (``None``: only on arrival)."""
        now, ticks = self.clock.now(), self._ticks()
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else _next_of(entry, now, ticks)

    def held_until(self, name: str) -> datetime | None:
        with self._lock:
            entry = self._entries.get(name)
            return None if entry is None else entry.held_until

    def seconds_to_next(self) -> float | None:
        """Seconds until the earliest timer (0 when one is due), ``None`` when there is none."""
        now, ticks = self.clock.now(), self._ticks()
        with self._lock:
            entries = self._entries.values()
            times = [at for entry in entries if (at := _next_of(entry, now, ticks)) is not None]
        if not times:
            return None
        return max(0.0, (min(times) - now).total_seconds())


def _next_of(entry: _Entry, now: datetime, ticks: float) -> datetime | None:
    """When ``entry`` next fires, on the wall clock (an ``every`` slot seen from ``now``)."""
    every_at = None
    if entry.every_at is not None:
        every_at = now + timedelta(seconds=entry.every_at - ticks)
    times = [at for at in (every_at, entry.cron_at) if at is not None]
    if not times:
        return None
    earliest = min(times)
    if entry.held_until is not None and entry.held_until > earliest:
        return entry.held_until
    return earliest


def _next_slot(previous: float, every: float | None, now: float) -> float:
    """The first slot of the fixed-rate series through ``previous`` that is after ``now``
    (monotonic seconds)."""
    assert every is not None
    missed = int((now - previous) // every)
    return previous + every * (missed + 1)
