"""Fleet: what the shared ledger costs per shipped file (claim + heartbeat + provenance).

    .venv/bin/python bench/bench_fleet.py [--files 2000] [--batch 100] [--rounds 5]
        [--no-postgres] [--no-sqlite]

Everything the ledger does for a file that an instance of a fleet ships,
timed in a warm process on SQLite and on PostgreSQL (the test suite's
server, started here), as the time the ledger's calls take seen from the
client — an upper bound of the database's own time (it includes SQLAlchemy,
the driver and the loopback round trips):

* **claim** — a due job claimed (``SELECT … FOR UPDATE SKIP LOCKED`` and
  its run's row, one transaction), rebuilt, run (a job that does nothing)
  and finished (its run's end and the job's state, one transaction):
  :meth:`entrepot.jobs.Runner.run_next`.  Once per file (``one job per
  file``, the worst case: each file a backlog job of its own) and once per
  ``--batch`` files (a route's run shipping that many).
* **provenance** — the three events a shipped file leaves (claimed,
  delivered, moved), journaled and written in batches by a
  :class:`~entrepot.provenance.recorder.Recorder`.
* **heartbeat** — one beat (the instance's row, its leases and claims
  renewed, lapsed leases looked for); an instance beats every 10 s by
  default, so per file it is the beat divided by the files shipped in 10 s
  (shown for 10 files/s, a slow route).
* **race** — two instances (threads with engines of their own) emptying a
  queue of ``--files`` due jobs: jobs claimed per second, and every job run
  once (checked).

The goal: ≤ 1 ms per file on PostgreSQL, one job per file.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from entrepot.jobs import Job, JobContext, JobState, Ledger, Runner, register_job_kind
from entrepot.provenance.events import Kind
from entrepot.provenance.recorder import Recorder
from harness import options, scratch

RUNS: Counter[str] = Counter()
_LOCK = threading.Lock()


class Nothing(Job):
    """A job that ships nothing: what is timed is the ledger around it."""

    kind = "bench-nothing"

    def produce(self, ctx: JobContext) -> int:
        return 1

    def send(self, ctx: JobContext) -> None:
        with _LOCK:
            RUNS[ctx.job_id] += 1


def fill(ledger: Ledger, prefix: str, count: int) -> list[str]:
    now = datetime.now(UTC)
    ids = [f"{prefix}-{number:06d}" for number in range(count)]
    for job_id in ids:
        ledger.add_job(job_id, Nothing.kind, {}, next_due=now, shared=True)
    return ids


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def claims(ledger: Ledger, jobs: int, tag: str) -> None:
    """Claim, run and finish the ``jobs`` due jobs of ``tag`` (filled beforehand)."""
    runner = Runner(ledger)
    for _ in range(jobs):
        runner.run_next()
    missed = [n for n in range(jobs) if RUNS[f"{tag}-{n:06d}"] != 1]
    assert not missed, f"jobs {missed[:5]} of {jobs} did not run once"


def provenance(ledger: Ledger, files: int, state: Path) -> None:
    """Record the three shipping events of ``files`` files."""
    with Recorder(ledger.engine, state_dir=state, job_id="bench") as recorder:
        for number in range(files):
            name = f"file-{number:06d}.csv"
            for kind in (Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED):
                recorder.record(kind, "/srv/spool", name, size=4096, checksum="sha256:00")


def heartbeat(ledger: Ledger, beats: int) -> None:
    """``beats`` beats, each with the recovery of lapsed leases that follows it."""
    started = datetime.now(UTC)
    report = {"spools": {"outbox": {"waiting": 12}}, "routes": {}}
    for _ in range(beats):
        ledger.beat(started_at=started, generation=1, every=10, lease=60, report=report)
        ledger.recover_expired()


class DatabaseTime:
    """Milliseconds PostgreSQL spent executing statements in one database
    (``pg_stat_database.active_time``, flushed by each backend as it ends)."""

    def __init__(self, admin: sa.Engine, database: str) -> None:
        self.admin = admin
        self.database = database

    def read(self) -> float:
        query = sa.text("SELECT active_time FROM pg_stat_database WHERE datname = :name")
        with self.admin.connect() as conn:
            return float(conn.execute(query, {"name": self.database}).scalar_one() or 0.0)

    def settled(self) -> float:
        """The figure once the backends of the closed connections have reported."""
        last = self.read()
        while True:
            time.sleep(1.5)
            now = self.read()
            if now == last:
                return now
            last = now


def phase(
    url: str, call: Callable[[Ledger], None], clock: DatabaseTime | None
) -> tuple[float, float | None]:
    """Seconds ``call`` takes on a ledger of its own, and the database's milliseconds."""
    before = clock.settled() if clock else None
    with Ledger(url, instance="bench", lease=60) as ledger:
        seconds = timed(lambda: call(ledger))
    spent = clock.settled() - before if clock and before is not None else None
    return seconds, spent


def race(url: str, files: int, tag: str) -> float:
    """Jobs per second two instances claim from one queue; each job checked run once."""
    with Ledger(url, instance="one") as first, Ledger(url, instance="two") as second:
        ids = fill(first, tag, files)
        barrier = threading.Barrier(2)

        def drain(ledger: Ledger) -> None:
            runner = Runner(ledger)
            barrier.wait()
            while runner.run_next() is not None:
                pass

        threads = [threading.Thread(target=drain, args=(b,)) for b in (first, second)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        assert [RUNS[job_id] for job_id in ids] == [1] * files, "a job ran twice or never"
        assert first.counts()[JobState.SUCCEEDED] >= files
    return files / seconds


def measure(
    url: str, backend: str, args: Any, base: Path, clock: DatabaseTime | None
) -> dict[str, Any]:
    files, beats = args.files, 50
    rounds: dict[str, list[float]] = {}

    def note(key: str, seconds: float, spent: float | None, per: int) -> None:
        rounds.setdefault(f"{key}_ms", []).append(seconds * 1000 / per)
        if spent is not None:
            rounds.setdefault(f"{key}_db_ms", []).append(spent / per)

    for number in range(args.warmup + args.rounds):
        tag = f"{backend}-{number}"  # job ids of their own, counted apart
        state = base / f"state-{tag}"
        state.mkdir()
        timings = {}
        for name, jobs in (("one", files), ("batch", files // args.batch)):
            with Ledger(url, instance="bench") as ledger:
                fill(ledger, f"{tag}-{name}", jobs)
            timings[name] = phase(url, partial(claims, jobs=jobs, tag=f"{tag}-{name}"), clock)
        timings["provenance"] = phase(url, partial(provenance, files=files, state=state), clock)
        timings["beat"] = phase(url, lambda b: heartbeat(b, beats), clock)
        race_rate = race(url, files, f"{tag}-race")
        if number < args.warmup:
            continue
        note("claim_per_file", *timings["one"], files)
        note("claim_batched_per_file", *timings["batch"], files)
        note("provenance_per_file", *timings["provenance"], files)
        note("beat", *timings["beat"], beats)
        rounds.setdefault("race_jobs_per_s", []).append(race_rate)
    row: dict[str, Any] = {"backend": backend, "files": files, "batch": args.batch}
    row |= {key: round(statistics.median(values), 4) for key, values in rounds.items()}
    for suffix in ("_ms", "_db_ms"):
        if f"beat{suffix}" not in row:
            continue
        beat = row[f"beat{suffix}"] / (10 * 10)  # one beat per 10 s at 10 files/s
        prov = row[f"provenance_per_file{suffix}"]
        row[f"total_one_job_per_file{suffix}"] = round(
            row[f"claim_per_file{suffix}"] + prov + beat, 4
        )
        row[f"total_batched{suffix}"] = round(
            row[f"claim_batched_per_file{suffix}"] + prov + beat, 4
        )
    row["goal"] = "≤ 1 ms of database time per file on PostgreSQL"
    return row


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    register_job_kind(Nothing.kind, lambda params: Nothing(), replace=True)
    base = scratch("fleet")
    rows = []
    with ExitStack() as stack:
        urls = {} if args.no_sqlite else {"sqlite": f"sqlite:///{base / 'ledger.sqlite3'}"}
        if not args.no_postgres:
            from tests.servers import postgres

            server = postgres._start()
            stack.callback(server.stop)
            urls["postgresql"] = server.url(server.create_database())
        for backend, url in urls.items():
            clock = None
            if backend == "postgresql":
                admin = sa.create_engine(server.url())
                stack.callback(admin.dispose)
                clock = DatabaseTime(admin, sa.make_url(url).database or "")
            row = measure(url, backend, args, base, clock)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
