"""What the overview shows: is anything stuck?  Spools, routes, open jobs, runs, charts.

Nothing here is computed twice: spools and routes come from
:mod:`entrepot.service.status` (what ``entrepot status`` prints), jobs by
state from :func:`entrepot.jobs.summary.state_counts` (what the metrics
export), the listings from :mod:`entrepot.web.jobs_data`.  The charts read
two small tables kept up to date as things happen — files and bytes per
hour from the provenance record's hourly counts
(:func:`entrepot.provenance.schema.add_to_hours`), the backlog's depth from
the service's hourly samples (:mod:`entrepot.jobs.depth`) — so a week of a
million events costs 168 rows per chart, not a scan.

:func:`overview` returns JSON-ready values: the HTML page and ``/api/overview``
show the same thing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from entrepot.jobs.depth import Depth, depth_history, hour_of
from entrepot.jobs.states import OPEN, JobState
from entrepot.jobs.summary import Rows, state_counts
from entrepot.provenance.events import Kind
from entrepot.service.config import Config, SpoolConfig
from entrepot.service.status import route_figures, spool_figures
from entrepot.spool import CLAIM_AREA
from entrepot.units import format_duration
from entrepot.web.charts import Bar, bar_chart, count_text, size_text
from entrepot.web.jobs_data import open_jobs, recent_runs
from entrepot.web.render import Paging

__all__ = [
    "WINDOWS",
    "Series",
    "as_json",
    "chart_series",
    "charts_html",
    "overview",
    "routes",
    "spools",
]

#: The charts' windows: name → hours drawn.
WINDOWS = {"24h": 24, "7d": 168}
#: Seconds the spools' figures serve every overview asked for meanwhile: counting them
#: looks at every file waiting (a backlog of 100,000 takes most of a second).
SPOOL_FIGURES_FOR = 2.0
_HOURLY = "entrepot_provenance_hourly"


class _RecentFigures:
    """The spools' figures of the last count, for :data:`SPOOL_FIGURES_FOR` seconds; the
    requests that come while one counts wait for its count rather than start their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[object, float, datetime, dict[str, dict[str, Any]]] | None = None

    def of(
        self, spools: Mapping[str, SpoolConfig], now: datetime
    ) -> tuple[datetime, dict[str, dict[str, Any]]]:
        """The figures of ``spools`` and the time they were counted at."""
        key = tuple((name, str(spool.path)) for name, spool in spools.items())
        with self._lock:
            kept = self._kept
            if (
                kept is not None
                and kept[0] == key
                and time.monotonic() - kept[1] < SPOOL_FIGURES_FOR
            ):
                return kept[2], kept[3]
            figures = spool_figures(spools, now)
            self._kept = (key, time.monotonic(), now, figures)
            return now, figures


_RECENT = _RecentFigures()


def spools(config: Config, now: datetime) -> list[dict[str, Any]]:
    """Each spool: files waiting in ``new/``, in flight, the oldest one's age, and whether it
    waited longer than the spool's ``stale_after`` (``stale``: shown in red).

    The files are counted at most every :data:`SPOOL_FIGURES_FOR` seconds; ages go on
    with the clock in between."""
    shown = []
    counted_at, found = _RECENT.of(config.spools, now)
    since = max((now - counted_at).total_seconds(), 0.0)
    for name, figures in found.items():
        waiting, claimed = figures["areas"]["new"], figures["areas"][CLAIM_AREA]
        age = waiting["oldest_age_seconds"]
        age = round(age + since, 1) if age is not None else None
        limit = config.spools[name].stale_after
        shown.append(
            {
                "name": name,
                "path": figures["path"],
                "exists": figures["exists"],
                "waiting_files": waiting["files"],
                "waiting_bytes": waiting["bytes"],
                "in_flight": claimed["files"],
                "oldest_age_seconds": age,
                "oldest_age": format_duration(age) if age is not None else None,
                "stale_after_seconds": limit,
                "stale": not figures["exists"] or (age is not None and age > limit),
            }
        )
    return shown


def routes(config: Config, rows: Rows, status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Each route and fetch as ``entrepot status`` shows it; ``failing`` when its last run
    failed (shown in red)."""
    found = route_figures(config, rows, status)
    return [
        {"name": name, **figures, "failing": figures["last_outcome"] in ("failed", "interrupted")}
        for name, figures in found.items()
    ]


@dataclass(frozen=True)
class Series:
    """One window's hours, oldest first, and what was counted in each."""

    hours: list[int]
    files: list[int]
    bytes: list[int]
    backlog: list[int | None]
    """Deepest backlog + dead jobs sampled in the hour; ``None``: no sample."""

    def last(self, hours: int) -> Series:
        """The last ``hours`` hours of this series (a shorter window, read with it)."""
        return Series(
            self.hours[-hours:], self.files[-hours:], self.bytes[-hours:], self.backlog[-hours:]
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "hours": [_hour_iso(hour) for hour in self.hours],
            "files_delivered": self.files,
            "bytes_delivered": self.bytes,
            "backlog_depth": self.backlog,
        }


def chart_series(rows: Rows, now: datetime, hours: int, live: Depth | None = None) -> Series:
    """The last ``hours`` hours up to ``now``'s; ``live`` (the depth now) counts in the
    current hour too, which the service may not have sampled yet."""
    last = hour_of(now)
    first = last - hours + 1
    delivered = rows(
        f"SELECT hour, files, bytes FROM {_HOURLY} "  # noqa: S608
        "WHERE kind = :kind AND hour >= :first AND hour <= :last",
        {"kind": str(Kind.DELIVERED), "first": first, "last": last},
    )
    counted = {int(hour): (int(files), int(size)) for hour, files, size in delivered}
    depth = depth_history(rows, first)
    if live is not None:
        before = depth.get(last, (0, 0))
        depth[last] = (max(before[0], live[0]), max(before[1], live[1]))
    span = list(range(first, last + 1))
    return Series(
        hours=span,
        files=[counted.get(hour, (0, 0))[0] for hour in span],
        bytes=[counted.get(hour, (0, 0))[1] for hour in span],
        backlog=[sum(depth[hour]) if hour in depth else None for hour in span],
    )


def _hour_iso(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).isoformat(timespec="minutes")


def _labels(hours: list[int], every: int) -> list[tuple[str, str | None]]:
    """Each hour's hover label, and its axis label on the hours that are a multiple of
    ``every`` (UTC): made once per window, shared by its three charts."""
    labels = []
    for hour in hours:
        start = datetime.fromtimestamp(hour * 3600, UTC)
        label = f"{start:%a %d %b %H}:00–{(start.hour + 1) % 24:02}:00 UTC"
        tick = None
        if hour % every == 0:
            tick = f"{start.hour:02}:00" if every < 24 else label[:6]
        labels.append((label, tick))
    return labels


def _bars(labels: list[tuple[str, str | None]], values: Sequence[int | None]) -> list[Bar]:
    return [
        Bar(label, None if value is None else float(value), tick)
        for (label, tick), value in zip(labels, values, strict=True)
    ]


def charts_html(window: str, series: Series) -> dict[str, Any]:
    """The window's three charts as SVG figures (escaped, see :mod:`entrepot.web.charts`)."""
    labels = _labels(series.hours, 6 if len(series.hours) <= 24 else 24)
    span = "the last 24 hours" if window == "24h" else "the last 7 days"
    return {
        "files": bar_chart(
            f"Files delivered per hour, {span}",
            _bars(labels, series.files),
            ident=f"chart-files-{window}",
        ),
        "bytes": bar_chart(
            f"Bytes delivered per hour, {span}",
            _bars(labels, series.bytes),
            unit=size_text,
            ident=f"chart-bytes-{window}",
        ),
        "backlog": bar_chart(
            f"Backlog depth (waiting and dead jobs), {span}",
            _bars(labels, series.backlog),
            unit=count_text,
            ident=f"chart-backlog-{window}",
            cumulative=False,
        ),
    }


def overview(
    config: Config,
    rows: Rows,
    status: Mapping[str, Any] | None,
    now: datetime,
    *,
    runs: Paging | None = None,
    jobs_shown: int = 10,
) -> dict[str, Any]:
    """Everything the overview shows, JSON-ready but for ``charts`` (window → :class:`Series`,
    drawn by the page; :func:`as_json` makes the whole JSON)."""
    # The open and running jobs only: counting the finished ones would read nearly all.
    counts = state_counts(rows, (*OPEN, JobState.RUNNING))
    live = (counts[JobState.BACKLOG], counts[JobState.DEAD])
    shown_spools = spools(config, now)
    shown_routes = routes(config, rows, status)
    week = chart_series(rows, now, max(WINDOWS.values()), live)
    # The first open jobs (dead first) here; all of them, paged, on the jobs page.
    jobs = open_jobs(rows, Paging(1, jobs_shown))
    return {
        "now": now.isoformat(timespec="seconds"),
        "stuck": any(s["stale"] for s in shown_spools)
        or any(r["failing"] for r in shown_routes)
        or counts[JobState.DEAD] > 0,
        "jobs_by_state": {str(state): count for state, count in counts.items()},
        "spools": shown_spools,
        "routes": shown_routes,
        "open_jobs": jobs.as_json(),
        "recent_runs": recent_runs(rows, runs or Paging(1)).as_json(),
        # The week is read once; the shorter windows are its last hours.
        "charts": {window: week.last(hours) for window, hours in WINDOWS.items()},
    }


def as_json(shown: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`overview` returned, its charts as data too."""
    return {**shown, "charts": {window: s.as_json() for window, s in shown["charts"].items()}}
