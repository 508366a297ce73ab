"""Files and bytes delivered per hour over a day, and per day over a week, for the pages.

Counted from the provenance index by place, kind and time
(:func:`entrepot.provenance.browse.totals`), one hour at a time: the week is
the sum of its 168 hours.  An hour that is over changes only when events of
it arrive late (a run records its files when it ends; a killed process's
journal is filed by the next command), so each page keeps the hours it
counted in an :class:`HourCache` for a while — a minute for the last two
hours, a quarter of an hour for older ones — and counts again only the
current hour and those it does not hold: a page costs one short count, not a
week of events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from entrepot.provenance.browse import Total, totals

__all__ = ["HourCache", "Throughput", "throughput"]

HOUR = timedelta(hours=1)
#: Seconds an hour's count is kept: recent hours may still receive late events.
RECENT_TTL, OLDER_TTL = 60.0, 900.0
#: Counts kept at most (a week of hours for a few dozen routes and targets).
KEPT = 20_000

_Key = tuple[tuple[str, ...], str | None, datetime]


class HourCache:
    """Counts of hours that are over, each kept for a while (see the module docstring)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._kept: dict[_Key, tuple[float, Total]] = {}
        self._lock = threading.Lock()

    def get(self, key: _Key) -> Total | None:
        with self._lock:
            found = self._kept.get(key)
        if found is None or found[0] < self.clock():
            return None
        return found[1]

    def put(self, key: _Key, total: Total, ttl: float) -> None:
        with self._lock:
            if len(self._kept) >= KEPT:
                now = self.clock()
                self._kept = {k: v for k, v in self._kept.items() if v[0] >= now}
                if len(self._kept) >= KEPT:
                    self._kept.clear()
            self._kept[key] = (self.clock() + ttl, total)


@dataclass(frozen=True)
class Throughput:
    """Files and bytes delivered per hour over the last day, per day over the last week."""

    hours: list[Total]
    days: list[Total]

    def as_json(self) -> dict[str, Any]:
        def shown(found: list[Total]) -> list[dict[str, Any]]:
            return [{"start": t.start.isoformat(), "files": t.files, "bytes": t.bytes}
                    for t in found]  # fmt: skip

        return {"hours": shown(self.hours), "days": shown(self.days)}


def throughput(
    engine: Engine,
    places: Sequence[str],
    target: str | None,
    cache: HourCache,
    now: datetime | None = None,
) -> Throughput:
    """What ``places`` delivered (to ``target`` only, when given), hour by hour for 24 hours
    and day by day for 7 days, up to the current hour included."""
    now = now or datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + HOUR
    starts = [end - HOUR * n for n in range(7 * 24, 0, -1)]
    where = tuple(sorted(places))
    found: dict[datetime, Total] = {}
    missing = []
    for start in starts:
        kept = cache.get((where, target, start))
        if kept is None:
            missing.append(start)
        else:
            found[start] = kept
    for first, last in _runs_of(missing):
        for total in totals(engine, where, since=first, until=last + HOUR, target=target):
            found[total.start] = total
            if total.start + HOUR <= now:  # the current hour is always counted again
                recent = now - total.start <= 2 * HOUR
                cache.put((where, target, total.start), total, RECENT_TTL if recent else OLDER_TTL)
    hours = [found[start] for start in starts]
    days = [
        Total(group[0].start, sum(t.files for t in group), sum(t.bytes for t in group))
        for group in (hours[n : n + 24] for n in range(0, len(hours), 24))
    ]
    return Throughput(hours[-24:], days)


def _runs_of(starts: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours grouped: (first, last) of each run, so each run is one call."""
    runs: list[tuple[datetime, datetime]] = []
    for start in starts:
        if runs and runs[-1][1] + HOUR == start:
            runs[-1] = (runs[-1][0], start)
        else:
            runs.append((start, start))
    return runs
