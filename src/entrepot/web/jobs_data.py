"""What the dashboard shows of jobs and runs: open jobs, recent runs, one job — paged.

Every listing is one indexed query of a fixed page size plus one count
(never a whole table read into memory), run as plain SQL through
:meth:`Ledger.rows <entrepot.jobs.ledger.Ledger.rows>`, the same way on
SQLite and PostgreSQL.  Values come back JSON-ready: times in ISO 8601
(UTC), errors and parameters with every secret masked, so the HTML page and
its ``/api`` twin show the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from entrepot.jobs.states import OPEN
from entrepot.jobs.summary import Rows, stored_time
from entrepot.redact import mask_secrets
from entrepot.web.render import Paging

__all__ = ["Page", "job_detail", "open_jobs", "reader", "recent_runs"]

_JOBS, _RUNS = "entrepot_jobs", "entrepot_job_runs"
_OPEN_STATES = tuple(str(state) for state in OPEN)
_JOB_FIELDS = "id, kind, name, state, created_at, updated_at, runs, failures, next_due, "
_JOB_FIELDS += "last_outcome, last_step, last_code, last_error, reason, items, bytes, identity"
_RUN_FIELDS = "r.id, r.job_id, r.number, r.trigger, r.host, r.started_at, r.ended_at, "
_RUN_FIELDS += "r.outcome, r.attempts, r.step, r.code, r.error, r.items, r.bytes"


@dataclass(frozen=True)
class Page:
    """One page of a listing: its rows, its number, whether another follows, and (where
    counting is cheap) how many rows there are in all."""

    items: list[dict[str, Any]]
    number: int
    has_next: bool
    total: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "page": self.number,
            "has_next": self.has_next,
            "total": self.total,
        }


@contextmanager
def reader(engine: sa.Engine) -> Iterator[Rows]:
    """A :class:`Rows` on one connection, for every query of one page: one checkout, one
    read transaction (the page's figures agree with each other)."""
    with engine.connect() as conn:

        def rows(sql: str, params: Mapping[str, Any], /) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in conn.execute(sa.text(sql), dict(params))]

        yield rows


def _iso(value: Any) -> str | None:
    moment = stored_time(value)
    return moment.isoformat(timespec="seconds") if moment else None


def _masked(text: str | None) -> str | None:
    return mask_secrets(text) if text else text


def _job(row: Sequence[Any]) -> dict[str, Any]:
    (job_id, kind, name, state, created, updated, runs, failures, due, outcome, step, code,
     error, reason, items, size, identity) = row  # fmt: skip
    return {
        "id": job_id,
        "kind": kind,
        "name": name,
        "state": state,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "runs": int(runs),
        "failures": int(failures),
        "next_due": _iso(due),
        "last_outcome": outcome,
        "last_step": step,
        "last_code": code,
        "last_error": _masked(error),
        "reason": _masked(reason),
        "items": int(items),
        "bytes": int(size),
        "identity": identity,
    }


def _run(row: Sequence[Any]) -> dict[str, Any]:
    (run_id, job_id, number, trigger, host, started, ended, outcome, attempts, step, code,
     error, items, size) = row[:14]  # fmt: skip
    begun, done = stored_time(started), stored_time(ended)
    return {
        "id": int(run_id),
        "job_id": job_id,
        "number": int(number),
        "trigger": trigger,
        "host": host,
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "seconds": round((done - begun).total_seconds(), 3) if begun and done else None,
        "outcome": outcome,
        "attempts": int(attempts),
        "step": step,
        "code": int(code),
        "error": _masked(error),
        "items": int(items),
        "bytes": int(size),
    }


def _count(rows: Rows, sql: str, params: dict[str, Any]) -> int:
    found = rows(sql, params)
    return int(found[0][0]) if found else 0


def open_jobs(rows: Rows, paging: Paging) -> Page:
    """Jobs waiting for a run or an operator: dead ones first, then by when they are due."""
    within = ", ".join(f":s{i}" for i in range(len(_OPEN_STATES)))
    params: dict[str, Any] = {f"s{i}": state for i, state in enumerate(_OPEN_STATES)}
    where = f"FROM {_JOBS} WHERE state IN ({within})"
    total = _count(rows, f"SELECT count(*) {where}", params)
    sql = (
        f"SELECT {_JOB_FIELDS} {where} "
        "ORDER BY CASE WHEN state = 'dead' THEN 0 ELSE 1 END, next_due, id "
        "LIMIT :limit OFFSET :offset"
    )
    found, more = paging.cut(
        list(rows(sql, {**params, "limit": paging.limit, "offset": paging.offset}))
    )
    return Page([_job(row) for row in found], paging.page, more, total)


def recent_runs(rows: Rows, paging: Paging) -> Page:
    """Every job's runs, newest first, with the job's kind and name (not counted: counting
    every run kept would read them all)."""
    # The page is cut from the runs alone (their key, newest first), then joined to its
    # jobs: a deep page skips index entries, not joined rows.
    sql = (
        f"SELECT {_RUN_FIELDS}, j.kind, j.name FROM (SELECT * FROM {_RUNS} "  # noqa: S608
        "ORDER BY id DESC LIMIT :limit OFFSET :offset) r "
        f"JOIN {_JOBS} j ON j.id = r.job_id ORDER BY r.id DESC"
    )
    found, more = paging.cut(list(rows(sql, {"limit": paging.limit, "offset": paging.offset})))
    items = [{**_run(row), "kind": row[14], "name": row[15]} for row in found]
    return Page(items, paging.page, more)


def job_detail(rows: Rows, job_id: str, paging: Paging) -> tuple[dict[str, Any], Page] | None:
    """One job (its parameters masked) and a page of its runs, newest first; ``None`` if
    there is no such job."""
    found = rows(
        f"SELECT {_JOB_FIELDS}, params FROM {_JOBS} WHERE id = :id",  # noqa: S608
        {"id": job_id},
    )
    if not found:
        return None
    job = _job(found[0][:17])
    params = found[0][17]
    text = params if isinstance(params, str) else json.dumps(params, sort_keys=True)
    job["params"] = mask_secrets(text)
    where = f"FROM {_RUNS} r WHERE r.job_id = :id"
    total = _count(rows, f"SELECT count(*) {where}", {"id": job_id})
    runs, more = paging.cut(
        list(
            rows(
                f"SELECT {_RUN_FIELDS} {where} ORDER BY r.number DESC LIMIT :limit OFFSET :offset",
                {"id": job_id, "limit": paging.limit, "offset": paging.offset},
            )
        )
    )
    return job, Page([_run(row) for row in runs], paging.page, more, total)
