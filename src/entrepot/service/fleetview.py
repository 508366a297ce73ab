"""The fleet at a glance: every instance's last heartbeat, silent ones, stuck routes.

:func:`fleet_view` reads the heartbeat rows of a shared ledger
(:meth:`~entrepot.jobs.Ledger.instances`) and says, for each instance,
whether it is ``alive``, ``stopped`` (it said so on its way out) or
``silent`` (no heartbeat for ``silent_after`` of its intervals: it died, hangs,
or lost the database), and which routes are stuck — failing, or holding
files with no success for ``stuck_after`` seconds — across the fleet::

    >>> from datetime import UTC, datetime, timedelta
    >>> from entrepot.jobs.fleet import InstanceRecord
    >>> now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> def seen(name, ago, routes):
    ...     return InstanceRecord(name, "host-" + name, 1, "1.0", 1, now - timedelta(hours=3),
    ...                           now - timedelta(seconds=ago), 10.0, None,
    ...                           {"spools": {"outbox": {"waiting": 4}}, "routes": routes})
    >>> failing = {"kind": "ship", "spool": "outbox", "last_outcome": "failed",
    ...            "last_success": None}
    >>> view = fleet_view([seen("edge-1", 5, {}), seen("edge-2", 45, {"to-hq": failing})],
    ...                   now, silent_after=3, stuck_after=3600)
    >>> [(i["name"], i["state"]) for i in view["instances"]]
    [('edge-1', 'alive'), ('edge-2', 'silent')]
    >>> [(s["instance"], s["route"], s["reason"]) for s in view["stuck"]]
    [('edge-2', 'to-hq', 'its last run failed')]

Each beat is stamped by its instance's clock.  Given the database's
``database_now`` (PostgreSQL), a beat is judged by the database's clock, moved
by the offset that instance's clock had at its last beat: a fast or slow clock
changes neither its age nor its state, and the offset is shown.  An instance
whose clock is further than ``clock_limit`` seconds from the database's (or,
where no offset is measured, whose beat is stamped that far ahead of ``now``)
is listed under ``clocks``; a beat stamped ahead reads ``in 9m``, never a
negative age::

    >>> fast = InstanceRecord("edge-3", "host-3", 1, "1.0", 1, now, now + timedelta(minutes=10),
    ...                       10.0, None, {}, clock_offset=600.0)
    >>> view = fleet_view([fast], now, silent_after=3, stuck_after=3600, clock_limit=15,
    ...                   database_now=now + timedelta(seconds=2))
    >>> [(i["state"], i["beat_age"], i["clock"]) for i in view["instances"]]
    [('alive', '2s ago', '+10m')]
    >>> view["clocks"][0]["reason"]
    "its clock is 10m ahead of the database's"
    >>> unmeasured = InstanceRecord("edge-4", "host-4", 1, "1.0", 1, now,
    ...                             now + timedelta(minutes=9), 10.0, None, {})
    >>> view = fleet_view([unmeasured], now, silent_after=3, stuck_after=3600, clock_limit=15)
    >>> [(i["state"], i["beat_age"], i["clock"]) for i in view["instances"]]
    [('alive', 'in 9m', 'not measured')]
    >>> view["clocks"][0]["reason"]
    'its last beat is stamped 9m ahead of this clock: its clock is ahead'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from entrepot.jobs.fleet import InstanceRecord
from entrepot.units import format_duration

if TYPE_CHECKING:
    from entrepot.jobs import Ledger

__all__ = ["beat_age", "fleet_view", "objects_in_doubt"]

#: A clock limit that flags nothing (a view asked without one).
_NO_LIMIT = float("inf")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _stuck(
    name: str, report: Mapping[str, Any], started: datetime, now: datetime, stuck_after: float
) -> list[dict[str, Any]]:
    """The routes of one instance's report that are stuck, with why."""
    spools = report.get("spools") or {}
    found = []
    for route, seen in (report.get("routes") or {}).items():
        waiting = int((spools.get(seen.get("spool")) or {}).get("waiting", 0))
        success = seen.get("last_success")
        since = datetime.fromisoformat(success) if success else started
        reason = None
        if seen.get("last_outcome") == "failed":
            reason = "its last run failed"
        elif seen.get("kind") == "ship" and waiting and (now - since).total_seconds() > stuck_after:
            reason = f"{waiting} files waiting, no success since {_iso(since)}"
        if reason is not None:
            found.append({"instance": name, "route": route, "waiting": waiting, "reason": reason})
    return found


def beat_age(seconds: float) -> str:
    """``4s ago``; ``in 9m`` for a beat stamped ahead of the clock that reads it."""
    return f"in {format_duration(-seconds)}" if seconds < 0 else f"{format_duration(seconds)} ago"


def _offset_text(offset: float | None) -> str:
    """``+10m`` (ahead of the database's clock), ``-3ms`` (behind), or ``not measured``."""
    if offset is None:
        return "not measured"
    text = format_duration(offset)
    return text if text.startswith(("-", "0")) else f"+{text}"


def _clock_trouble(record: InstanceRecord, age: float, limit: float) -> str | None:
    """Why ``record``'s clock is flagged (beyond ``limit`` seconds), or ``None``."""
    offset = record.clock_offset
    if offset is not None:
        if abs(offset) <= limit:
            return None
        side = "ahead of" if offset > 0 else "behind"
        return f"its clock is {format_duration(abs(offset))} {side} the database's"
    if -age > limit:
        # Not measured (SQLite): only a beat from the future shows a clock ahead.
        ahead = format_duration(-age)
        return f"its last beat is stamped {ahead} ahead of this clock: its clock is ahead"
    return None


def fleet_view(
    instances: Iterable[InstanceRecord],
    now: datetime,
    *,
    silent_after: int,
    stuck_after: float,
    clock_limit: float = _NO_LIMIT,
    database_now: datetime | None = None,
) -> dict[str, Any]:
    """Every instance with its state, the stuck routes of those that are not stopped, and
    the clocks of those that are further than ``clock_limit`` seconds from the database's.

    ``now`` is the reader's clock; ``database_now`` the database's, when it has one
    (:meth:`~entrepot.jobs.Ledger.database_now`), by which the beats are then judged.
    """
    listed: list[dict[str, Any]] = []
    stuck: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []
    for record in instances:
        # Its own stamps are compared with the time by its own clock.
        its_now = record.clock_now(now, database_now)
        age = round((its_now - record.beat_at).total_seconds(), 1)
        if record.stopped_at is not None:
            state = "stopped"
        elif record.silent(its_now, silent_after):
            state = "silent"
        else:
            state = "alive"
        trouble = None if state == "stopped" else _clock_trouble(record, age, clock_limit)
        if trouble is not None:
            clocks.append({"instance": record.name, "host": record.host,
                           "offset": record.clock_offset, "reason": trouble})  # fmt: skip
        spools = record.report.get("spools") or {}
        listed.append(
            {
                "name": record.name,
                "state": state,
                "host": record.host,
                "pid": record.pid,
                "version": record.version,
                "generation": record.generation,
                "started_at": _iso(record.started_at),
                "last_beat": _iso(record.beat_at),
                "seconds_since_beat": age,
                "beat_age": beat_age(age),
                "clock_offset": record.clock_offset,
                "clock": _offset_text(record.clock_offset),
                "clock_skewed": trouble is not None,
                "heartbeat": record.every,
                "waiting": sum(int(s.get("waiting", 0)) for s in spools.values()),
            }
        )
        if state != "stopped":
            stuck += _stuck(record.name, record.report, record.started_at, its_now, stuck_after)
    return {
        "instances": listed,
        "silent": [i["name"] for i in listed if i["state"] == "silent"],
        "stuck": stuck,
        "clocks": clocks,
    }


def objects_in_doubt(ledger: Ledger) -> list[dict[str, Any]]:
    """Every fetched object whose claim is in doubt across the fleet, oldest first: the
    instance that held it, where it was landing (host, spool), its name and key."""
    from entrepot.ship.claimed import KIND, landing_of

    found = []
    for claim in ledger.claims_in_doubt(KIND):
        landing = landing_of(claim)
        found.append({"holder": claim.holder, "host": landing.get("host"),
                      "name": (claim.detail or {}).get("name"), "spool": landing.get("spool"),
                      "key": claim.key})  # fmt: skip
    return found
