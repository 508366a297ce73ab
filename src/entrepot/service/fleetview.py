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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from entrepot.jobs.fleet import InstanceRecord

if TYPE_CHECKING:
    from entrepot.jobs import Ledger

__all__ = ["fleet_view", "objects_in_doubt"]


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


def fleet_view(
    instances: Iterable[InstanceRecord], now: datetime, *, silent_after: int, stuck_after: float
) -> dict[str, Any]:
    """Every instance with its state, and the stuck routes of those that are not stopped."""
    listed: list[dict[str, Any]] = []
    stuck: list[dict[str, Any]] = []
    for record in instances:
        if record.stopped_at is not None:
            state = "stopped"
        elif record.silent(now, silent_after):
            state = "silent"
        else:
            state = "alive"
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
                "seconds_since_beat": round((now - record.beat_at).total_seconds(), 1),
                "heartbeat": record.every,
                "waiting": sum(int(s.get("waiting", 0)) for s in spools.values()),
            }
        )
        if state != "stopped":
            stuck += _stuck(record.name, record.report, record.started_at, now, stuck_after)
    return {
        "instances": listed,
        "silent": [i["name"] for i in listed if i["state"] == "silent"],
        "stuck": stuck,
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
