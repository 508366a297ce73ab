"""Central fetch throughput from S3 under ledger claims, with 1 and 2 fetch processes.

    .venv/bin/python bench/bench_fleet_s3.py [--objects 2000] [--size 4096]
        [--rounds 3] [--fetchers 1,2]

A SeaweedFS (``weed mini``) and a PostgreSQL 15 are started as the test suite
starts them (PostgreSQL with ``fsync=off``, as there).  Each round fills the
bucket with ``--objects`` objects of ``--size`` bytes under edge-style keys
(``edge-N/orders/2025/12/05/…``, untimed, through boto3), makes a fresh
ledger database, then starts N ``entrepot fetch URL SPOOL --claims --ledger
URL`` processes at once — each with a spool of its own, as on N hosts — and
times them until the last one exits.  Every run is verified: the spools
together hold every object exactly once, and the bucket is empty.

Where the time goes, per run:

* the fetchers' own CPU (user + system, from ``wait4``), start-up included;
* SeaweedFS's CPU (its process's ``utime + stime`` before and after);
* PostgreSQL's ``active_time`` for the ledger database (``pg_stat_database``:
  time spent executing statements), read after the fetchers exit;
* how long the fetchers and SeaweedFS waited for a core while ready to run
  (``/proc/PID/task/*/schedstat``, sampled every 0.2 s): on a shared machine
  this tells a CPU-starved run from one waiting on disk or network;
* the 1-minute load average before and after (the machine is shared).

The sum of CPU seconds over wall seconds says how much of the 2 cores the
work used; the shares say which part set the pace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness import PYTHON, ROOT, check, scratch

# isort: split
from tests.servers import postgres
from tests.servers import s3 as s3_servers

from entrepot.ship.claimed import local_name
from entrepot.spool import Spool

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_delay(pid: int) -> float:
    """Seconds the threads of ``pid`` have waited for a core while ready to run."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


class DelaySampler(threading.Thread):
    """The latest run-queue delay of each process watched, until told to stop."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.latest = dict.fromkeys(pids, 0.0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for pid in self.latest:
                self.latest[pid] = max(self.latest[pid], run_delay(pid))


def pg_active_ms(url: str, database: str) -> tuple[float, int]:
    """``active_time`` (ms) and committed transactions of ``database`` so far."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT active_time, xact_commit FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return float(row[0] or 0.0), int(row[1] or 0)


def fill(server: s3_servers.S3Server, prefix: str, names: list[str], size: int) -> None:
    client = server.client()
    body = os.urandom(size)

    def put(name: str) -> None:
        key = f"{prefix}/{name}"
        client.put_object(Bucket=s3_servers.BUCKET, Key=key, Body=body + name.encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))


def remaining(server: s3_servers.S3Server, prefix: str) -> int:
    pages = server.client().get_paginator("list_objects_v2")
    return sum(
        page.get("KeyCount", 0)
        for page in pages.paginate(Bucket=s3_servers.BUCKET, Prefix=prefix + "/")
    )


def fetch_run(
    args: Any, base: Path, server: s3_servers.S3Server, pg: Any, fetchers: int, round_: int
) -> dict[str, Any]:
    prefix = f"bench-{fetchers}-{round_}"
    names = [f"edge-{n % 3}/orders/2025/12/05/f{n:06d}.bin" for n in range(args.objects)]
    fill(server, prefix, names, args.size)
    database = pg.create_database()
    ledger = pg.url(database)
    url = (
        f"s3://{s3_servers.BUCKET}/{prefix}?endpoint_url={server.endpoint_url}"
        f"&region={s3_servers.REGION}"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "S3_SECRET": s3_servers.SECRET_KEY}
    spools = []
    procs = []
    assert server._proc is not None
    weed_before = cpu_of(server._proc.pid)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for n in range(fetchers):
        spool = Spool(base / f"run-{fetchers}-{round_}" / f"central-{n}").prepare().root
        spools.append(spool)
        state = str(spool.parent / f"state-{n}")
        argv = [PYTHON, "-m", "entrepot", "fetch", url, str(spool), "--claims", "--ledger"]
        argv += [ledger, "--state", state, "-o", f"access_key={s3_servers.ACCESS_KEY}"]
        argv += ["--password-env", "S3_SECRET"]
        own = {**env, "ENTREPOT_INSTANCE": f"central-{n}"}
        procs.append(
            subprocess.Popen(argv, env=own, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        )
    weed_delay = run_delay(server._proc.pid)
    sampler = DelaySampler([proc.pid for proc in procs])
    sampler.start()
    client_cpu = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        client_cpu += usage.ru_utime + usage.ru_stime
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        check(proc.returncode == 0, f"fetch exited {proc.returncode}: {err[-2000:]}")
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    weed_cpu = cpu_of(server._proc.pid) - weed_before
    weed_delay = run_delay(server._proc.pid) - weed_delay
    load_after = os.getloadavg()[0]
    time.sleep(1.5)  # backends report their statistics when they end
    active_ms, commits = pg_active_ms(pg.url(), database)
    fetched = [name for spool in spools for name in os.listdir(spool / "new")]
    check(len(fetched) == len(set(fetched)), "a file was fetched twice")
    check(set(fetched) == {local_name(name) for name in names}, "files missing")
    check(remaining(server, prefix) == 0, "objects left in the bucket")
    per_process = [len(os.listdir(spool / "new")) for spool in spools]
    return {
        "fetchers": fetchers,
        "objects": args.objects,
        "wall_s": round(wall, 2),
        "files_per_s": round(args.objects / wall, 1),
        "split": per_process,
        "fetcher_cpu_s": round(client_cpu, 2),
        "weed_cpu_s": round(weed_cpu, 2),
        "pg_active_s": round(active_ms / 1000, 2),
        "pg_ms_per_file": round(active_ms / args.objects, 3),
        "pg_commits": commits,
        "fetcher_runq_s": round(sum(sampler.latest.values()), 2),
        "weed_runq_s": round(weed_delay, 2),
        "cores_busy": round((client_cpu + weed_cpu + active_ms / 1000) / wall, 2),
        "load": [round(load_before, 2), round(load_after, 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fetchers", default="1,2")
    args = parser.parse_args()
    base = scratch("fleet-s3")
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    counts = [int(n) for n in args.fetchers.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    with ExitStack() as stack:
        server = s3_servers.S3Server(base / "s3", s3_servers.find_weed() or "weed")
        server.start()
        stack.callback(server.stop)
        server.client().create_bucket(Bucket=s3_servers.BUCKET)
        pg = postgres._start()
        stack.callback(pg.stop)
        for round_ in range(args.rounds):
            # Take turns going first: a warmer cache or a quieter machine favours no side.
            for fetchers in counts if round_ % 2 == 0 else counts[::-1]:
                row = fetch_run(args, base, server, pg, fetchers, round_)
                runs[fetchers].append(row)
                print(json.dumps(row), flush=True)
    print("\n| fetch processes | files/s (median) | range | fetcher CPU | fetcher waits for a core "
          "| SeaweedFS CPU | PostgreSQL active | PG ms/file | cores busy |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for fetchers, rows in runs.items():

        def median(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(statistics.median(row[key] for row in rows))

        rates = [row["files_per_s"] for row in rows]
        print(
            f"| {fetchers} | {median('files_per_s'):.0f} | {min(rates):.0f}–{max(rates):.0f} "
            f"| {median('fetcher_cpu_s'):.1f} s | {median('fetcher_runq_s'):.1f} s "
            f"| {median('weed_cpu_s'):.1f} s "
            f"| {median('pg_active_s'):.1f} s | {median('pg_ms_per_file'):.2f} "
            f"| {median('cores_busy'):.2f} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
