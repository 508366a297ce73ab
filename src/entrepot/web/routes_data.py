"""What the route and target pages show: settings, history, throughput, last errors.

A route's jobs are found by its *identity* (:func:`entrepot.service.status.route_identity`,
the digest the daemon's and ``entrepot ship``'s jobs carry); a target's are
those of every route and fetch that uses it.  The history is the runs of
those jobs, newest first, a page at a time (one indexed join); the last
errors are the failures among the latest :data:`RECENT_RUNS` runs and the
latest failed file deliveries of the provenance record; the throughput is
:mod:`entrepot.web.throughput`'s.

Nothing secret is shown: URLs are masked, errors pass
:func:`~entrepot.redact.mask_secrets`, a password appears only as the
variable or file that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from entrepot.jobs.schema import OPEN, jobs_table, runs_table
from entrepot.provenance.browse import latest
from entrepot.provenance.events import Kind, place_of
from entrepot.redact import mask_secrets
from entrepot.service.config import Config
from entrepot.service.status import route_identity
from entrepot.targets import mask_url

__all__ = [
    "History",
    "RunRow",
    "history",
    "last_errors",
    "route_places",
    "route_settings",
    "target_settings",
]

#: Runs per page of a history.
RUNS_PER_PAGE = 25
#: The latest runs the last errors are looked for in.
RECENT_RUNS = 1_000
#: Errors shown at most (runs, and files).
ERRORS = 10


def _masked(value: Any) -> Any:
    return mask_secrets(str(value)) if isinstance(value, str) else value


def route_settings(config: Config, name: str) -> dict[str, Any]:
    """What the configuration says of route ``name`` (its target's URL masked)."""
    route = config.routes[name]
    target = config.targets[route.target]
    return {
        "name": name,
        "spool": route.spool,
        "spool_path": str(config.spools[route.spool].path),
        "target": route.target,
        "target_url": mask_url(target.url),
        "on_arrival": route.on_arrival,
        "every": route.every,
        "cron": route.cron,
        "protocol": route.protocol,
        "parallel": route.parallel,
        "conflict": route.conflict,
        "after": route.after,
        "order": route.order,
        "provenance": route.provenance,
        "retry": {"max_tries": route.retry.max_tries, "delay": route.retry.delay},
    }


def target_settings(config: Config, name: str) -> dict[str, Any]:
    """What the configuration says of target ``name``: masked URL, the password's
    reference (never the password), options (masked), the routes and fetches using it."""
    target = config.targets[name]
    return {
        "name": name,
        "url": mask_url(target.url),
        "password_env": target.password_env,
        "password_file": str(target.password_file) if target.password_file else None,
        "options": {key: _masked(value) for key, value in sorted(target.options.items())},
        "routes": sorted(n for n, r in config.routes.items() if r.target == name),
        "fetches": sorted(n for n, f in config.fetches.items() if f.target == name),
    }


def identities(
    config: Config, routes: Sequence[str] = (), fetches: Sequence[str] = ()
) -> list[str]:
    """The job identities of ``routes`` and ``fetches`` (those that can be known)."""
    found = [route_identity(config, "ship", name) for name in routes]
    found += [route_identity(config, "fetch", name) for name in fetches]
    return [identity for identity in found if identity is not None]


@dataclass(frozen=True)
class RunRow:
    """One run of a history, with its job's name and state."""

    run_id: int
    job_id: str
    job_name: str
    job_state: str
    number: int
    trigger: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    attempts: int
    items: int
    bytes: int
    step: str | None
    code: int
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class History:
    """A page of runs, newest first, and how many of the jobs are open, per state."""

    page: int
    runs: list[RunRow]
    has_next: bool
    jobs: dict[str, int]


_COLUMNS = (
    runs_table.c.id, runs_table.c.job_id, jobs_table.c.name, jobs_table.c.state,
    runs_table.c.number, runs_table.c.trigger, runs_table.c.started_at, runs_table.c.ended_at,
    runs_table.c.outcome, runs_table.c.attempts, runs_table.c["items"], runs_table.c["bytes"],
    runs_table.c.step, runs_table.c.code, runs_table.c.error,
)  # fmt: skip


def _of(identities: Sequence[str]) -> Any:
    """Jobs of ``identities``; one is asked as an equality, which SQLite reads in the
    order of the index on identity and id (a list it reads in the order of the ids)."""
    if len(identities) == 1:
        return jobs_table.c.identity == identities[0]
    return jobs_table.c.identity.in_(list(identities))


def _runs(identities: Sequence[str]) -> Any:
    """Runs of the jobs of ``identities``: the newest job first (job ids begin with their
    time), its runs newest first — read backwards along the index of jobs by identity and
    id, then of runs by job, so a page costs a page of rows however long the history."""
    joined = runs_table.join(jobs_table, jobs_table.c.id == runs_table.c.job_id)
    return (
        sa.select(*_COLUMNS)
        .select_from(joined)
        .where(_of(identities))
        .order_by(jobs_table.c.id.desc(), runs_table.c.number.desc())
    )


def _row(values: Sequence[Any]) -> RunRow:
    row = RunRow(*values)
    return RunRow(**{**row.__dict__, "error": mask_secrets(row.error) if row.error else None})


def history(engine: Engine, identities: Sequence[str], page: int) -> History:
    """Page ``page`` (from 1) of the runs of the jobs of ``identities``."""
    if not identities:
        return History(page, [], False, {})
    query = _runs(identities).offset((page - 1) * RUNS_PER_PAGE).limit(RUNS_PER_PAGE + 1)
    # The jobs still open (a handful at most: one waiting job per route), counted from
    # the index on identity and state; the finished ones are the history itself.
    states = (
        sa.select(jobs_table.c.state, sa.func.count())
        .where(_of(identities))
        .where(jobs_table.c.state.in_([str(state) for state in OPEN]))
        .group_by(jobs_table.c.state)
    )
    with engine.connect() as conn:
        rows = [_row(values) for values in conn.execute(query)]
        jobs = {str(state): int(count) for state, count in conn.execute(states)}
    return History(page, rows[:RUNS_PER_PAGE], len(rows) > RUNS_PER_PAGE, jobs)


def last_errors(
    engine: Engine, identities: Sequence[str], places: Sequence[str], target: str | None
) -> dict[str, list[Any]]:
    """The failed runs among the latest :data:`RECENT_RUNS` of ``identities``, and the latest
    failed deliveries of files of ``places`` (to ``target``, when given), newest first."""
    runs: list[RunRow] = []
    if identities:
        recent = _runs(identities).limit(RECENT_RUNS).subquery()
        failed = (
            sa.select(recent)
            .where(recent.c.outcome == "failed")
            .order_by(recent.c.job_id.desc(), recent.c.number.desc())
            .limit(ERRORS)
        )
        with engine.connect() as conn:
            runs = [_row(values) for values in conn.execute(failed)]
    files = []
    for place in places:
        files += [
            event
            for event in latest(engine, place, kinds=[Kind.FAILED], limit=ERRORS)
            if target is None or event.target == target
        ]
    files.sort(key=lambda event: event.at, reverse=True)
    return {"runs": runs, "files": files[:ERRORS]}


def route_places(config: Config, routes: Sequence[str]) -> tuple[list[str], bool]:
    """The places (spool folders) of ``routes``, and whether another route ships one of them
    (then only events of the route's own target are counted)."""
    spools = {config.routes[name].spool for name in routes}
    shared = any(r.spool in spools for n, r in config.routes.items() if n not in routes)
    return sorted(place_of(config.spools[spool].path) for spool in spools), shared
