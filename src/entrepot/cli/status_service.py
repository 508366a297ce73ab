"""``entrepot status`` with a configuration: spools, routes and the running service.

Called by :mod:`entrepot.cli.status` when a configuration file is found; the
figures come from :mod:`entrepot.service.status`, the jobs by state and the
jobs needing attention from the same code as without a configuration, and
the exit code follows the same rule.

``service.json`` is read as a report, not trusted: the service counts as
running only while its state folder's lock is held (a PID alone may have
been reused since a ``kill -9``), a schedule of another shape than the
service writes is left out, and what it says is printed escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from entrepot.cli.console import emit_json, human_size, out, shown, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import LedgerChoice, ledger_rows, recorded, recorded_in
from entrepot.cli.names import is_name
from entrepot.cli.status import JobsSummary, _as_json, jobs_tables
from entrepot.jobs.summary import stored_time
from entrepot.service import status as service
from entrepot.service.config import Config, SpoolConfig
from entrepot.service.instance import is_locked
from entrepot.service.loading import load_config
from entrepot.service.named import find
from entrepot.spool import Spool
from entrepot.units import format_duration


def service_status(
    file: Path, names: Sequence[str], as_json: bool, state: Path | None, ledger_url: str | None
) -> int:
    """Report on the service configured in ``file``; the exit code of ``entrepot status``."""
    config = load_config(file)
    now = datetime.now(UTC)
    # Only read: a state folder that is not there is told (exit 4), never made.
    state = recorded_in(state) or config.service.state
    ledger_url = ledger_url or config.service.ledger
    recorded(LedgerChoice(state, ledger_url))
    running = _running(state, now)
    crashed = _crashed(running)
    spools = service.spool_figures(_selected(config, names), now)
    with ledger_rows(state, ledger_url) as rows:
        routes = service.route_figures(config, rows, running)
        summary = JobsSummary.read(rows)
        jobs = _as_json({}, summary)
        if as_json:
            del jobs["spools"]
            emit_json(
                {
                    "config": str(file),
                    "service": {"running": True, **_without_schedule(running)}
                    if running
                    else {"running": False},
                    "spools": spools,
                    "routes": routes,
                    **jobs,
                }
            )
        else:
            out.print(_service_line(running, config))
            if crashed:
                lanes = ", ".join(shown(str(lane)) for lane in crashed)
                out.print(f"Last run crashed before it was recorded (a full disk?): {lanes}")
            out.print(_spools_table(spools))
            if routes:
                out.print(_routes_table(routes, now))
            out.print(jobs_tables(summary))
    return ExitCode.FAILED if summary.needs_attention or crashed else ExitCode.OK


def _crashed(running: Mapping[str, Any] | None) -> list[str]:
    """The lanes whose last run crashed before it could be recorded, as the running
    service says (``service.json``'s ``crashed``, when it could write it)."""
    found = (running or {}).get("crashed")
    return [str(lane) for lane in found] if isinstance(found, Mapping | list) else []


def _selected(config: Config, names: Sequence[str]) -> dict[str, SpoolConfig]:
    """The spools named, else all the configured ones.

    An argument is read as every command reads it (:mod:`entrepot.cli.names`):
    a path when written as one or when it exists, else a configured spool's
    name.  An unknown name raises UnknownName and a missing folder
    SpoolNotFound (both exit 4).
    """
    if not names:
        return dict(config.spools)
    chosen: dict[str, SpoolConfig] = {}
    for key in names:
        if is_name(key):
            spool = find(config, "spools", key)
        else:
            spool = SpoolConfig(path=Path(key).expanduser().absolute())
        Spool(spool.path).check()
        chosen[key] = spool
    return chosen


def _running(state: Path, now: datetime) -> dict[str, Any] | None:
    """What the service running on ``state`` says of itself; None unless its PID is alive
    and the state folder's lock is held.  Each route's and fetch's schedule is kept only
    as a mapping of names to a ``next_due`` time, which is None when not a time."""
    running = service.running_service(state, now)
    if running is None or not is_locked(state):
        return None
    return {key: _schedule(value) if key in ("routes", "fetches") else value
            for key, value in running.items()}  # fmt: skip


def _schedule(section: Any) -> dict[str, dict[str, str | None]]:
    if not isinstance(section, Mapping):
        return {}
    schedule: dict[str, dict[str, str | None]] = {}
    for name, entry in section.items():
        if isinstance(entry, Mapping):
            due = stored_time(entry.get("next_due"))
            schedule[str(name)] = {"next_due": due.isoformat() if due else None}
    return schedule


def _without_schedule(running: Mapping[str, Any]) -> dict[str, Any]:
    # Each route's next due time is shown with the route.
    return {key: value for key, value in running.items() if key not in ("routes", "fetches")}


def _service_line(running: Mapping[str, Any] | None, config: Config) -> str:
    if running is None:
        return f"Service: not running (state folder {shown(config.service.state)})"
    uptime = running.get("uptime_seconds")
    parts = [
        f"Service: running, PID {running['pid']}",
        f"up {format_duration(uptime)}" if uptime is not None else None,
        f"configuration generation {shown(running['generation'])}"
        if running.get("generation")
        else None,
        f"listening on {shown(running['listen'])}" if running.get("listen") else None,
    ]
    return ", ".join(part for part in parts if part)


def _spools_table(spools: Mapping[str, Mapping[str, Any]]) -> Table:
    def cell(area: Mapping[str, Any]) -> str:
        if not area["files"]:
            return "0"
        age = area["oldest_age_seconds"]
        oldest = f", oldest {format_duration(age)}" if age is not None else ""
        return f"{area['files']} ({human_size(area['bytes'])}{oldest})"

    rows = [
        (
            name if figures["exists"] else f"{name} (missing)",
            *(cell(figures["areas"][area]) for area in service.SHOWN_AREAS),
        )
        for name, figures in spools.items()
    ]
    columns = ("Spool", "Waiting", "In flight", "Done", "Being written")
    return table("Spools", columns, rows)


def _routes_table(routes: Mapping[str, Mapping[str, Any]], now: datetime) -> Table:
    def when(value: str | None) -> str:
        if not value:
            return ""
        seconds = (now - datetime.fromisoformat(value)).total_seconds()
        return f"{format_duration(abs(seconds))} {'ago' if seconds >= 0 else 'from now'}"

    rows = [
        (
            name,
            f"{route['kind']} {route['spool']} → {route['target']}",
            when(route["last_run"]),
            route["last_outcome"] or "",
            when(route["last_success"]),
            when(route["next_due"]),
            (route["last_error"] or {}).get("error", "")[:70],
        )
        for name, route in routes.items()
    ]
    columns = ("Route", "Way", "Last run", "Outcome", "Last success", "Next due", "Last error")
    return table("Routes", columns, rows)
