"""Fleet: what the shared ledger costs per shipped file (claim + heartbeat + provenance).

    .venv/bin/python bench/bench_fleet.py [--files 2000] [--batch 100] [--rounds 5]
        [--no-postgres]

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
from pathlib import Path
from typing import Any

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


def claims(ledger: Ledger, files: int, per_job: int, tag: str) -> float:
    """Seconds per file of claiming, running and finishing one job per ``per_job`` files."""
    jobs = files // per_job
    fill(ledger, tag, jobs)
    runner = Runner(ledger)
    seconds = timed(lambda: [runner.run_next() for _ in range(jobs)])
    missed = [n for n in range(jobs) if RUNS[f"{tag}-{n:06d}"] != 1]
    assert not missed, f"jobs {missed[:5]} of {jobs} did not run once"
    return seconds / files


def provenance(ledger: Ledger, files: int, state: Path) -> float:
    """Seconds per file of recording its three shipping events."""

    def ship() -> None:
        with Recorder(ledger.engine, state_dir=state, job_id="bench") as recorder:
            for number in range(files):
                name = f"file-{number:06d}.csv"
                for kind in (Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED):
                    recorder.record(kind, "/srv/spool", name, size=4096, checksum="sha256:00")

    return timed(ship) / files


def heartbeat(ledger: Ledger, beats: int = 50) -> float:
    """Seconds per beat (with the recovery of lapsed leases that follows it)."""
    started = datetime.now(UTC)
    report = {"spools": {"outbox": {"waiting": 12}}, "routes": {}}

    def beat() -> None:
        for _ in range(beats):
            ledger.beat(started_at=started, generation=1, every=10, lease=60, report=report)
            ledger.recover_expired()

    return timed(beat) / beats


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


def measure(url: str, backend: str, args: Any, base: Path) -> dict[str, Any]:
    rounds: dict[str, list[float]] = {
        "claim_per_file_ms": [], "claim_batched_per_file_ms": [], "provenance_per_file_ms": [],
        "beat_ms": [], "race_jobs_per_s": [],
    }  # fmt: skip
    with Ledger(url, instance="bench", lease=60) as ledger:
        for number in range(args.warmup + args.rounds):
            state = base / f"state-{backend}-{number}"
            state.mkdir()
            figures = {
                "claim_per_file_ms": claims(ledger, args.files, 1, f"one-{number}") * 1000,
                "claim_batched_per_file_ms": claims(
                    ledger, args.files, args.batch, f"batch-{number}"
                )
                * 1000,
                "provenance_per_file_ms": provenance(ledger, args.files, state) * 1000,
                "beat_ms": heartbeat(ledger) * 1000,
                "race_jobs_per_s": race(url, args.files, f"race-{number}"),
            }
            if number >= args.warmup:
                for key, value in figures.items():
                    rounds[key].append(value)
    row: dict[str, Any] = {"backend": backend, "files": args.files, "batch": args.batch}
    row |= {key: round(statistics.median(values), 4) for key, values in rounds.items()}
    beat_per_file = row["beat_ms"] / (10 * 10)  # one beat per 10 s at 10 files/s
    row["total_one_job_per_file_ms"] = round(
        row["claim_per_file_ms"] + row["provenance_per_file_ms"] + beat_per_file, 4
    )
    row["total_batched_ms"] = round(
        row["claim_batched_per_file_ms"] + row["provenance_per_file_ms"] + beat_per_file, 4
    )
    row["goal"] = "≤ 1 ms per file on PostgreSQL"
    return row


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    register_job_kind(Nothing.kind, lambda params: Nothing(), replace=True)
    base = scratch("fleet")
    rows = []
    with ExitStack() as stack:
        urls = {"sqlite": f"sqlite:///{base / 'ledger.sqlite3'}"}
        if not args.no_postgres:
            from tests.servers import postgres

            server = postgres._start()
            stack.callback(server.stop)
            urls["postgresql"] = server.url(server.create_database())
        for backend, url in urls.items():
            row = measure(url, backend, args, base)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
