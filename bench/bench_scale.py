"""Scale: what one shipped file leaves in PostgreSQL, in bytes and in write rate.

    .venv/bin/python bench/bench_scale.py [--events 1000000] [--jobs 3000] [--inserts 200000]

The figures ``docs/scale.md`` builds its capacity plan on, measured on the
test suite's PostgreSQL 15 (started here):

* **bytes per provenance event** — ``--events`` events (four per file:
  received, claimed, delivered, moved; the shape ``bench_provenance.py``
  loads) bulk-loaded, then the table's heap and each index measured
  (``pg_relation_size``) after ``VACUUM ANALYZE``;
* **event write rate** — ``--inserts`` more events written as the recorder
  writes them (``insert_rows``: many rows to a statement, batches of 500, one
  transaction per batch) into the filled table, by one connection: events
  per second and PostgreSQL's own time per event;
* **bytes per job** — ``--jobs`` jobs claimed, run and finished through the
  runner (one run row each), then the jobs and runs tables and their indexes
  measured.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench_fleet import Nothing
from bench_fleet import fill as fill_jobs
from bench_provenance import COLUMNS, event_rows
from bench_provenance import fill as fill_events
from entrepot.jobs import Ledger, Runner, register_job_kind
from entrepot.jobs.schema import jobs_table, runs_table
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.schema import events_table
from harness import options

BATCH = 500


def sizes(engine: sa.Engine, table: str) -> dict[str, int]:
    """The heap and every index of ``table``, in bytes, after a vacuum."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        heap = conn.execute(sa.text("SELECT pg_relation_size(:t)"), {"t": table}).scalar_one()
        rows = conn.execute(
            sa.text(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) "
                "FROM pg_index WHERE indrelid = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).all()
    return {"heap": int(heap), **{str(name): int(size) for name, size in rows}}


def active_ms(admin: sa.Engine, database: str) -> float:
    query = sa.text("SELECT active_time FROM pg_stat_database WHERE datname = :name")
    last = -1.0
    while True:  # wait until the closed backends have reported
        with admin.connect() as conn:
            now = float(conn.execute(query, {"name": database}).scalar_one() or 0.0)
        if now == last:
            return now
        last = now
        time.sleep(1.5)


def event_writes(url: str, count: int, admin: sa.Engine, database: str) -> dict[str, float]:
    engine = sa.create_engine(url)
    rows = [
        row for _, row in zip(range(count), event_rows(count * 2, "/srv/edge/outbox"), strict=False)
    ]
    before = active_ms(admin, database)
    started = time.perf_counter()
    with engine.connect() as conn:
        for start in range(0, len(rows), BATCH):
            with conn.begin():
                insert_rows(conn, rows[start : start + BATCH])
    seconds = time.perf_counter() - started
    engine.dispose()
    spent = active_ms(admin, database) - before
    return {"events_per_s": count / seconds, "db_ms_per_event": spent / count}


def jobs_bytes(url: str, count: int) -> dict[str, Any]:
    register_job_kind(Nothing.kind, lambda params: Nothing(), replace=True)
    with Ledger(url, instance="bench", lease=60) as ledger:
        fill_jobs(ledger, "scale", count)
        runner = Runner(ledger)
        for _ in range(count):
            runner.run_next()
        engine = ledger.engine
        return {table.name: sizes(engine, table.name) for table in (jobs_table, runs_table)}


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--inserts", type=int, default=200_000)
    args = parser.parse_args()
    from tests.servers import postgres

    with ExitStack() as stack:
        server = postgres._start()
        stack.callback(server.stop)
        database = server.create_database()
        url = server.url(database)
        admin = sa.create_engine(server.url())
        stack.callback(admin.dispose)
        load = fill_events(url, args.events)
        engine = sa.create_engine(url)
        stack.callback(engine.dispose)
        event_sizes = sizes(engine, events_table.name)
        result: dict[str, Any] = {
            "measured": datetime.now(UTC).isoformat(timespec="minutes"),
            "events": args.events,
            "bulk_load_s": round(load, 1),
            "event_bytes": {k: round(v / args.events, 1) for k, v in event_sizes.items()},
            "event_bytes_total": round(sum(event_sizes.values()) / args.events, 1),
            "columns": len(COLUMNS),
        }
        result.update(event_writes(url, args.inserts, admin, database))
        jobs = jobs_bytes(url, args.jobs)
        result["job_bytes_total"] = round(
            sum(sum(parts.values()) for parts in jobs.values()) / args.jobs, 1
        )
        result["job_bytes"] = {
            table: {k: round(v / args.jobs, 1) for k, v in parts.items()}
            for table, parts in jobs.items()
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
