"""A ledger as a busy week leaves it: jobs with their runs, provenance events, depth samples.

Used by ``bench/bench_dashboard.py``.  :func:`fill` writes, spread over the
seven days before now, ``jobs`` jobs — most of them shipping runs of the
configured routes (their identities), some imports — with one to three runs
each, ``events`` provenance events (four per file: received, claimed,
delivered, moved), and one backlog-depth sample per hour.  Most jobs
succeeded; a few are in the backlog, dead, dropped or superseded, as a
week with outages leaves them.

The load is untimed and bulk: jobs and runs by ``executemany``, events with
their indexes dropped and rebuilt (``COPY`` on PostgreSQL), and the hourly
counts made from the events by the provenance schema's own upgrade step —
what a ledger upgraded to this release does once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from entrepot.db import make_engine, write_transaction
from entrepot.jobs import Ledger
from entrepot.jobs.depth import depth_table, hour_of
from entrepot.jobs.ids import format_job_id
from entrepot.jobs.schema import jobs_table, runs_table
from entrepot.provenance.journal import COLUMNS
from entrepot.provenance.schema import _add_hours, ensure_tables, events_table

WEEK = timedelta(days=7)
KINDS = ("received", "claimed", "delivered", "moved")
CHUNK = 20_000
#: Share of the jobs left in each state (the rest succeeded).
STATES = (("backlog", 0.015), ("dead", 0.005), ("dropped", 0.01), ("superseded", 0.02))


def _state(rng: random.Random) -> str:
    draw = rng.random()
    for state, share in STATES:
        if draw < share:
            return state
        draw -= share
    return "succeeded"


def job_rows(
    count: int, identities: Sequence[str], now: datetime, seed: int = 15
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``count`` jobs, oldest first, each with its runs."""
    rng = random.Random(seed)
    start = now - WEEK
    step = WEEK / count
    for number in range(count):
        created = start + step * number
        state = _state(rng)
        importing = number % 10 == 9
        # Jobs still waiting belong to no route: a route has one waiting job at most.
        identity = None if importing or state in ("backlog", "dead") else identities[number % 4]
        failed_first = state != "succeeded" or rng.random() < 0.15
        outcomes = (["failed"] * rng.randint(1, 2) if failed_first else []) + [
            "failed" if state in ("backlog", "dead") else "succeeded"
        ]
        size = rng.randint(1, 40) * 4096
        runs, ended = [], created
        for run_number, outcome in enumerate(outcomes, 1):
            started = ended + timedelta(seconds=rng.randint(1, 120))
            ended = started + timedelta(seconds=rng.uniform(0.1, 30))
            ok = outcome == "succeeded"
            runs.append({
                "number": run_number, "trigger": "every" if run_number == 1 else "backlog",
                "host": "bench", "pid": 4242, "started_at": started, "ended_at": ended,
                "outcome": outcome, "attempts": 1 if ok else 3, "step": None if ok else "send",
                "code": 0 if ok else 5,
                "error": None if ok else "connection refused by ftp.example.org:21",
                "error_type": None if ok else "ConnectionFailed", "transient": None if ok else True,
                "items": rng.randint(1, 10) if ok else 0, "bytes": size if ok else 0,
                "history": [],
            })  # fmt: skip
        last = runs[-1]
        job = {
            "id": format_job_id(int(created.timestamp() * 1000), number % 1000, f"{number:08x}"),
            "kind": "import" if importing else "ship",
            "name": f"import customers-{number}.csv" if importing else f"ship route-{number % 4}",
            "params": {"route": number % 4},
            "state": state,
            "created_at": created,
            "updated_at": last["ended_at"],
            "runs": len(runs),
            "failures": len(runs) if state in ("backlog", "dead") else 0,
            "next_due": last["ended_at"] + timedelta(minutes=10) if state == "backlog" else None,
            "last_outcome": last["outcome"],
            "last_step": last["step"],
            "last_code": last["code"],
            "last_error": last["error"],
            "reason": "the partner closed this feed" if state == "dropped" else None,
            "items": last["items"],
            "bytes": last["bytes"],
            "identity": identity,
        }
        for run in runs:
            run["job_id"] = job["id"]
        yield job, runs


def event_rows(count: int, place: str, now: float) -> Iterator[tuple[Any, ...]]:
    """``count`` events over the week before ``now``, four per file."""
    files = count // 4
    start = now - WEEK.total_seconds()
    step = WEEK.total_seconds() / max(files, 1)
    for number in range(files):
        name = f"{(number * 2654435761) % 2**32:08x}-{number}.csv"
        at = start + number * step
        for offset, kind in enumerate(KINDS):
            target = "ftp://partner@ftp.example.org/in" if kind == "delivered" else None
            details = '{"to":"cur"}' if kind == "moved" else "{}"
            yield (at + offset * 0.01, kind, place, name, 4096, f"sha256:{number:064x}",
                   "job-1", "bench", "ok", target, 1, details, None, None)  # fmt: skip


def fill(url: str, *, jobs: int, events: int, identities: Sequence[str], place: str) -> float:
    """Fill the ledger at ``url`` (made if new); return the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    Ledger(url).close()  # the ledger's tables, at this release's version
    engine = make_engine(url, purpose="ledger")
    ensure_tables(engine)
    batch_jobs: list[dict[str, Any]] = []
    batch_runs: list[dict[str, Any]] = []
    for job, runs in job_rows(jobs, identities, now):
        batch_jobs.append(job)
        batch_runs += runs
        if len(batch_jobs) >= CHUNK:
            _insert(engine, batch_jobs, batch_runs)
            batch_jobs, batch_runs = [], []
    _insert(engine, batch_jobs, batch_runs)
    _events(engine, events, place, now.timestamp())
    rng = random.Random(7)
    with write_transaction(engine) as conn:
        hours = range(hour_of(now - WEEK), hour_of(now))
        conn.execute(
            depth_table.insert(),
            [{"hour": h, "backlog": rng.randint(0, 1500), "dead": rng.randint(0, 500),
              "sampled_at": now} for h in hours],
        )  # fmt: skip
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def _insert(engine: sa.Engine, jobs: list[dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    if jobs:
        with write_transaction(engine) as conn:
            conn.execute(jobs_table.insert(), jobs)
            conn.execute(runs_table.insert(), runs)


def _events(engine: sa.Engine, count: int, place: str, now: float) -> None:
    """Bulk-load the events (indexes rebuilt after), then count them per hour."""
    indexes = list(events_table.indexes)
    with write_transaction(engine) as conn:
        for index in indexes:
            index.drop(conn)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rows = event_rows(count, place, now)
        names = ", ".join(COLUMNS)
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {events_table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in COLUMNS)
            cursor.execute("BEGIN")
            while batch := [row for _, row in zip(range(200_000), rows, strict=False)]:
                cursor.executemany(f"INSERT INTO {events_table.name} ({names}) VALUES ({marks})",
                                   batch)  # fmt: skip
        raw.commit()
    finally:
        raw.close()
    with write_transaction(engine) as conn:
        for index in indexes:
            index.create(conn)
        _add_hours(conn)
