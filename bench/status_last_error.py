"""``entrepot status``'s last error of a route, in a ledger of many failed runs.

    .venv/bin/python bench/status_last_error.py [--failures 300000] [--routes 20]

Makes a SQLite ledger where one route failed ``--failures`` times and
``--routes`` other routes never failed, then times the look-up of the last
error of each of those routes: the query of the release before (every
failed run of the ledger read newest first, each checked for the route) and
the route's history as ``status`` reads it now (the newest failed runs, then
the route's own jobs).  In-process, one reading each: a breakdown, not a
figure of merit.
"""

from __future__ import annotations

import argparse
import sqlite3
import time

from entrepot.jobs import Ledger, RetryPolicy, Runner
from entrepot.jobs.summary import sqlite_reader
from entrepot.jobs.testing import ScriptedJob
from entrepot.service import status
from harness import scratch

#: The release before's query: every failed run, newest first, until one of the route's.
BEFORE = (
    "SELECT r.ended_at, r.error FROM entrepot_job_runs r WHERE r.outcome = 'failed' "
    "AND EXISTS (SELECT 1 FROM entrepot_jobs j WHERE j.id = r.job_id "
    "AND j.identity = :identity) ORDER BY r.id DESC LIMIT 1"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", type=int, default=300_000)
    parser.add_argument("--routes", type=int, default=20)
    args = parser.parse_args()
    folder = scratch("status-last-error")
    with Ledger.open(folder) as ledger:
        runner = Runner(ledger, policy=RetryPolicy.never())
        runner.run(ScriptedJob(fail={"send": ["permanent"]}, identity="noisy"))
        for number in range(args.routes):
            runner.run(ScriptedJob(identity=f"fine-{number}"))
    with sqlite3.connect(folder / "ledger.sqlite3") as conn:  # copies of the failed run
        job = conn.execute("SELECT * FROM entrepot_jobs WHERE identity = 'noisy'").fetchone()
        run = conn.execute("SELECT * FROM entrepot_job_runs WHERE outcome = 'failed'").fetchone()
        conn.executemany(
            f"INSERT INTO entrepot_jobs VALUES ({','.join('?' * len(job))})",
            [(f"copy-{n:08d}", *job[1:]) for n in range(args.failures)],
        )
        conn.executemany(
            f"INSERT INTO entrepot_job_runs VALUES ({','.join('?' * len(run))})",
            [(10**9 + n, f"copy-{n:08d}", *run[2:]) for n in range(args.failures)],
        )
    with sqlite_reader(folder) as rows:
        assert rows is not None
        routes = [f"fine-{number}" for number in range(args.routes)]
        for label, look in (
            ("before", lambda name: rows(BEFORE, {"identity": name})),
            ("now", lambda name: status._route_history(rows, name)),
        ):
            started = time.perf_counter()
            for name in routes:
                look(name)
            took = time.perf_counter() - started
            print(
                f"{label:7} {args.routes} routes that never failed, {args.failures:,} "
                f"failed runs: {took * 1000:.0f} ms ({took * 1000 / args.routes:.1f} ms a route)"
            )


if __name__ == "__main__":
    main()
