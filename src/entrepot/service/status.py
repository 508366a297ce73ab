"""What ``entrepot status`` says of a configured service: spools, routes, the running process.

Everything here only reads: each configured spool's folders (files, bytes
and the age of the oldest file per area), the ledger (plain SQL through a
:class:`Rows` reader, so a SQLite ledger can be read without SQLAlchemy),
and ``<state>/service.json``, which a running ``entrepot serve`` keeps up to
date (its PID, when it started, its configuration and generation, when each
route is next due).  A ``service.json`` whose PID is gone was left by a
service that was killed: it is ignored.

A route's jobs are found by the route's *identity* (see
:attr:`entrepot.ship.Route.identity`): the same digest the daemon's and
``entrepot ship``'s jobs carry, computed from the configuration without
reading any secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from entrepot.errors import EntrepotError
from entrepot.jobs.summary import Rows
from entrepot.jobs.summary import stored_time as _time
from entrepot.processes import process_gone
from entrepot.redact import mask_secrets
from entrepot.service.config import Config, SpoolConfig
from entrepot.spool import CLAIM_AREA, Spool

__all__ = [
    "SERVICE_FILE",
    "Rows",
    "route_figures",
    "route_identity",
    "running_service",
    "spool_figures",
]

#: The file a running service describes itself in, in its state folder.
SERVICE_FILE = "service.json"
#: Areas always shown, in this order (waiting, in flight, done, being written), existing or not.
SHOWN_AREAS = ("new", CLAIM_AREA, "cur", "tmp")


# -- the running service --------------------------------------------------------------


def running_service(state: Path, now: datetime) -> dict[str, Any] | None:
    """What the service running on ``state`` says of itself; ``None`` when none runs."""
    try:
        data = json.loads((state / SERVICE_FILE).read_text(encoding="utf-8"))
        pid = int(data["pid"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(data, dict) or process_gone(pid):
        return None
    started = _time(data.get("started_at"))
    return {
        "pid": pid,
        "started_at": _iso(started),
        "uptime_seconds": round((now - started).total_seconds(), 1) if started else None,
        "config": data.get("config"),
        "generation": data.get("generation"),
        "listen": data.get("listen"),
        "routes": data.get("routes") or {},
        "fetches": data.get("fetches") or {},
        # Lanes whose last run crashed before the ledger could record it (a full disk).
        "crashed": data.get("crashed") if isinstance(data.get("crashed"), dict) else {},
    }


# -- spools ---------------------------------------------------------------------------


def spool_figures(spools: Mapping[str, SpoolConfig], now: datetime) -> dict[str, dict[str, Any]]:
    """Each spool: its path, whether it exists, and per area files, bytes and oldest file."""
    figures: dict[str, dict[str, Any]] = {}
    for name, spool in spools.items():
        folder = Spool(spool.path)
        exists = folder.exists()
        stats = folder.stats() if exists else {}
        areas = {}
        for area in (*SHOWN_AREAS, *sorted(set(stats) - set(SHOWN_AREAS))):
            found = stats.get(area)
            oldest = found.oldest if found else None
            areas[area] = {
                "files": found.files if found else 0,
                "bytes": found.bytes if found else 0,
                "oldest_age_seconds": round(max(now.timestamp() - oldest, 0.0), 1)
                if oldest is not None
                else None,
            }
        figures[name] = {"path": str(spool.path), "exists": exists, "areas": areas}
    return figures


# -- routes ---------------------------------------------------------------------------


def route_identity(config: Config, kind: str, name: str) -> str | None:
    """The identity of the jobs of route (``kind="ship"``) or fetch ``name``; ``None`` if the
    configuration does not let it be known (an unknown scheme, an extra not installed)."""
    from entrepot.ship import Fetcher, ShipOptions, Shipper

    entry = config.routes[name] if kind == "ship" else config.fetches[name]
    target = config.targets[entry.target]
    # Who logs in is no part of a route's identity: a stand-in password lets the
    # target be built without reading the real one, which this user may not see.
    options = {**target.options, "password": "-"}
    route = Shipper if kind == "ship" else Fetcher
    try:
        return route(
            config.spools[entry.spool].path,
            target.url,
            options=ShipOptions(protocol=entry.protocol),
            target_options=options,
        ).identity
    except EntrepotError:
        return None


_JOBS, _RUNS = "entrepot_jobs", "entrepot_job_runs"
_NEWEST = (
    f"SELECT id, state, last_outcome, updated_at, next_due FROM {_JOBS} "  # noqa: S608
    "WHERE identity = :identity ORDER BY id DESC LIMIT 1"
)
_SUCCESS = (
    f"SELECT updated_at FROM {_JOBS} "  # noqa: S608
    "WHERE identity = :identity AND state = 'succeeded' ORDER BY id DESC LIMIT 1"
)
# A route's last error: first among the ledger's newest failed runs (an index read
# newest first, each checked for the route's identity — it stops at the route's last
# failure), bounded, so that a route that never failed does not read every failure of
# the others (a million, one second a route); if the newest were not all the failures
# there are, then among the route's own jobs (its history, through the index on identity).
RECENT_FAILURES = 2000
_FAILURES_SEEN = (
    f"SELECT count(*) FROM (SELECT id FROM {_RUNS} WHERE outcome = 'failed' "  # noqa: S608
    "ORDER BY id DESC LIMIT :recent) f"
)
_ERROR_RECENT = (
    f"SELECT r.ended_at, r.error FROM (SELECT id, job_id, ended_at, error FROM {_RUNS} "  # noqa: S608
    "WHERE outcome = 'failed' ORDER BY id DESC LIMIT :recent) r "
    f"WHERE EXISTS (SELECT 1 FROM {_JOBS} j WHERE j.id = r.job_id AND j.identity = :identity) "
    "ORDER BY r.id DESC LIMIT 1"
)
# CROSS JOIN: SQLite reads the jobs first (the route's, by its identity), then their runs
# by job; the outcome compared as an expression, which the index on outcomes does not
# hold (else each job would read every failed run of the ledger).
_ERROR_OLDER = (
    f"SELECT r.ended_at, r.error FROM {_JOBS} j CROSS JOIN {_RUNS} r "  # noqa: S608
    "WHERE r.job_id = j.id AND j.identity = :identity AND r.outcome || '' = 'failed' "
    "ORDER BY r.id DESC LIMIT 1"
)


def route_figures(
    config: Config, rows: Rows, service: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Each route and fetch: last run, last success, last error, next due, waiting job."""
    figures: dict[str, dict[str, Any]] = {}
    older = rows(_FAILURES_SEEN, {"recent": RECENT_FAILURES})[0][0] >= RECENT_FAILURES
    for kind, section, entries in (
        ("ship", "routes", config.routes),
        ("fetch", "fetches", config.fetches),
    ):
        for name, entry in entries.items():
            identity = route_identity(config, kind, name)
            found = _route_history(rows, identity, older=older) if identity else {}
            scheduled = ((service or {}).get(section) or {}).get(name) or {}
            figures[name] = {
                "kind": kind,
                "spool": entry.spool,
                "target": entry.target,
                "identity": identity,
                "last_run": found.get("last_run"),
                "last_outcome": found.get("last_outcome"),
                "last_success": found.get("last_success"),
                "last_error": found.get("last_error"),
                "waiting_job": found.get("waiting_job"),
                # The service's schedule when it runs; else when the waiting job is due.
                "next_due": scheduled.get("next_due") if service else found.get("job_due"),
            }
    return figures


def _route_history(rows: Rows, identity: str, *, older: bool = True) -> dict[str, Any]:
    """What the ledger says of one route; ``older``: failed runs may be older than the
    ledger's :data:`RECENT_FAILURES` newest (look among the route's own jobs too)."""
    params = {"identity": identity}
    found: dict[str, Any] = {}
    newest = rows(_NEWEST, params)
    if newest:
        job_id, state, outcome, updated, due = newest[0]
        running = state == "running"
        found["last_outcome"] = "running" if running else outcome
        found["last_run"] = None if running else _iso(_time(updated))
        if state in ("pending", "backlog", "dead", "running"):
            found["waiting_job"] = job_id
            found["job_due"] = _iso(_time(due)) if state in ("pending", "backlog") else None
    success = rows(_SUCCESS, params)
    if success:
        found["last_success"] = _iso(_time(success[0][0]))
    error = rows(_ERROR_RECENT, {**params, "recent": RECENT_FAILURES})
    if not error and older:
        error = rows(_ERROR_OLDER, params)
    if error:
        ended, message = error[0]
        found["last_error"] = {"at": _iso(_time(ended)), "error": mask_secrets(message or "")}
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
