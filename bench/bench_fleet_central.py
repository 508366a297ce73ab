"""Central throughput of a fleet: fetch and import with 1 and 2 ``entrepot serve`` instances.

    .venv/bin/python bench/bench_fleet_central.py [--rounds 3] [--small 1000] [--large 200]
        [--files 100] [--rows 5000] [--instances 1,2] [--only fetch|import] [--json FILE]
        [--profile [PY_SPY]]

What a central site runs: N ``entrepot serve --config FILE`` processes (the
virtual environment's console script), each with its own instance name,
state folder and spool, all on one PostgreSQL ledger — PostgreSQL 15 with
its default durability (``fsync``, ``synchronous_commit`` and
``full_page_writes`` on), SeaweedFS ``weed mini`` as the bucket.

* **fetch** — the bucket holds ``--small`` objects of 4 KiB (the per-object
  cost: claims, requests, fsyncs) or ``--large`` objects of 1 MiB (the
  bytes) under edge keys (``edge-N/orders/2025/12/05/…``, put beforehand,
  untimed); each instance has ``[fetches.edges]`` with ``claims = true``
  (every object claimed in the ledger, fetched once across instances) and
  ``every = "2s"``.  Timed from the moment every instance has logged
  ``service.ready`` until every object is in a spool and the bucket is
  empty; the objects fetched before that moment (an instance ready earlier
  starts at once) are left out of the rate.
* **import** — ``--files`` CSV files of ``--rows`` orders each (the
  10-column file of ``cmd_import.py``, distinct ids) dropped into the
  watched folder of a shared data center (``[datacenter] shared = true``,
  one root, one watched folder, one PostgreSQL database), by hard links,
  once every instance is ready; timed until every file is in
  ``finished/`` and the watched folder is empty.

Every round runs each instance count once (1 then 2, 2 then 1 in the next
round), on fresh databases and folders.  Every run is verified: each object
is in exactly one spool with its size and content, the bucket is empty,
each claim is done and each object has one ``received`` event; the table
holds every row once (count, rows per city, sample rows), every file has
one import, none has failed rows.

Where the time goes, over the timed window of each run: the CPU seconds of
each ``serve`` process (with its children), of PostgreSQL (the postmaster
and all its processes), of ``weed``, of this script, and of the rest of the
machine (other people's work), each as a share of the machine's cores; how
long each waited for a core; the disk's busy time; and what PostgreSQL's
backends were doing, sampled from ``pg_stat_activity`` (on a core, or
waiting on the WAL's fsync, a lock…); the server's WAL flushes and their
time (``pg_stat_wal``; the script turns ``track_wal_io_timing`` on) and the
commits of the ledger and of the data database.  ``--profile`` adds, after
each workload's rounds, one run of one instance under ``py-spy record
--idle`` (not counted in the figures): where its working thread was — in
PostgreSQL's driver, in S3 requests, in a line of ours that calls
``os.fsync``, or elsewhere in Python.  ``uptime`` is printed before and
after.  Figures are medians over the rounds; the ratio 2 ÷ 1 is the median
of the per-round ratios.  ``FLEET_BENCH_KEEP=1`` keeps each run's folders
(configurations, logs, spools) in ``bench/.work/fleet-central/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmd_import import durable_postgres
from fleet_report import print_tables
from fleet_sampling import Window, time_wal_flushes
from fleet_workloads import INSTANCE, CsvFiles, Servers, Work, fetch_work, import_work
from harness import ENTREPOT, ROOT, check, scratch

# isort: split
from tests.servers import s3 as s3_servers

SMALL, LARGE = 4096, 1 << 20
POLL = 0.1
LIMIT = 900.0  # seconds a run may take before the benchmark gives up
KEEP = bool(os.environ.get("FLEET_BENCH_KEEP"))  # keep each run's folders, to read the logs

# -- one run --------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        for proc in procs:
            check(proc.poll() is None, f"serve exited {proc.returncode}: see {proc.args}")
        check(time.monotonic() < deadline, f"not done after {LIMIT:.0f} s")
        time.sleep(POLL)


def stop(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=60))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def configure(servers: Servers, home: Path, name: str, ledger: str, work: Work) -> Path:
    home.mkdir(parents=True)
    pg = servers.pg
    text = INSTANCE.format(home=home, pg=pg, ledger=ledger, name=name)
    text += work.section.format(home=home, pg=pg, **work.fields)
    config = home / "entrepot.toml"
    config.write_text(text)
    return config


Build = Callable[[Path, list[Path], str], Work]


def run_once(
    servers: Servers, build: Build, label: str, instances: int, py_spy: str | None = None
) -> dict[str, Any]:
    """Start ``instances`` services on a fresh workload; time, sample and verify their work.

    ``py_spy``: profile the first instance over the timed window with this ``py-spy``.
    """
    run = servers.base / label
    homes = [run / f"central-{k}" for k in range(instances)]
    ledger = servers.pg.create_database()
    work = build(run, homes, ledger)
    env = {**os.environ, "PGPASSWORD": servers.pg.password, "S3_SECRET": s3_servers.SECRET_KEY}
    procs: list[subprocess.Popen[bytes]] = []
    launched = time.perf_counter()
    try:
        for k, home in enumerate(homes):
            config = configure(servers, home, f"central-{k}", ledger, work)
            with open(home / "serve.log", "wb") as log:
                procs.append(subprocess.Popen(
                    [ENTREPOT, "serve", "--config", str(config)], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))  # fmt: skip

        def ready() -> bool:
            return all(b"service.ready" in (home / "serve.log").read_bytes() for home in homes)

        wait_for(ready, procs)
        roots = {f"central-{k}": proc.pid for k, proc in enumerate(procs)}
        url = servers.pg.url().replace("+psycopg", "")
        window = Window({**roots, **servers.pids}, url, work.databases, servers.base)
        profile = None
        if py_spy:
            profile = (py_spy, procs[0].pid, run / "profile.txt", work.marker, ROOT / "src")
        window.open(profile)
        done_before = work.progress()
        started = time.perf_counter()
        work.begin()
        wait_for(work.complete, procs)
        ended = time.perf_counter()
        figures = window.close()
    finally:
        codes = stop(procs)
    check(all(code == 0 for code in codes), f"serve exit codes {codes}")
    pg = window.pg_spent()
    work.verify()
    config = (homes[0] / "entrepot.toml").read_text()
    if not KEEP:
        shutil.rmtree(run)
    units = work.units - done_before
    seconds = ended - started
    return {
        "instances": instances,
        "units": work.units,
        "timed_units": units,
        "window_s": round(seconds, 3),
        "launch_to_done_s": round(ended - launched, 3),
        "rate": units / seconds,
        "mib_s": units * work.bytes / work.units / seconds / (1 << 20),
        **figures,
        "pg": {name: value / work.units for name, value in pg.items()},  # per unit
        "load": os.getloadavg()[0],
        "config": config,
    }


# -- rounds and tables ----------------------------------------------------------------


def start_servers(base: Path) -> tuple[Servers, list[Callable[[], None]]]:
    s3 = s3_servers.S3Server(base / "s3", s3_servers.find_weed() or "weed")
    s3.start()
    stops = [s3.stop]
    try:
        s3.client().create_bucket(Bucket=s3_servers.BUCKET)
        pg = durable_postgres()
        time_wal_flushes(pg.url().replace("+psycopg", ""))
    except BaseException:
        s3.stop()
        raise
    stops.append(pg.stop)
    stops.append(lambda: shutil.rmtree(pg.base, ignore_errors=True))
    return Servers(pg, s3, base), stops


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--small", type=int, default=1000, help="4 KiB objects (default 1000)")
    parser.add_argument("--large", type=int, default=200, help="1 MiB objects (default 200)")
    parser.add_argument("--files", type=int, default=100, help="CSV files (default 100)")
    parser.add_argument("--rows", type=int, default=5000, help="rows per file (default 5000)")
    parser.add_argument("--instances", default="1,2", help="instance counts (default 1,2)")
    parser.add_argument("--only", choices=("fetch", "import"), help="one workload only")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every run here")
    parser.add_argument(
        "--profile",
        nargs="?",
        const=shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
        metavar="PY_SPY",
        help="after each workload's rounds, one more run of one instance under py-spy",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.instances.split(",")]
    print(f"bench_fleet_central: {args.rounds} rounds, instances {counts}, "
          f"{os.cpu_count()} CPUs; {ENTREPOT} serve")  # fmt: skip
    print(f"before: {uptime()}", flush=True)
    base = scratch("fleet-central")
    servers, stops = start_servers(base)
    builds: dict[str, Build] = {}
    units: dict[str, str] = {}
    if args.only != "import":
        builds[f"fetch {args.small} × 4 KiB"] = lambda run, homes, ledger: fetch_work(
            servers, run, homes, ledger, args.small, SMALL)  # fmt: skip
        builds[f"fetch {args.large} × 1 MiB"] = lambda run, homes, ledger: fetch_work(
            servers, run, homes, ledger, args.large, LARGE)  # fmt: skip
        units.update(dict.fromkeys(builds, "objects/s"))
    if args.only != "fetch":
        csv = CsvFiles.make(base, args.files, args.rows)
        name = f"import {args.files} × {args.rows:,} rows"
        builds[name] = lambda run, homes, ledger: import_work(servers, run, homes, ledger, csv)
        units[name] = "rows/s"
    results: dict[str, dict[int, list[dict[str, Any]]]] = {w: {n: [] for n in counts}
                                                         for w in builds}  # fmt: skip
    profiles: dict[str, dict[str, float]] = {}
    try:
        for number, (work, build) in enumerate(builds.items()):
            for round_ in range(args.rounds):
                # Take turns going first: a warmer cache or a quieter minute favours no side.
                for count in counts if round_ % 2 == 0 else counts[::-1]:
                    row = run_once(servers, build, f"w{number}-r{round_}-n{count}", count)
                    config = row.pop("config")
                    if round_ == 0 and count == counts[0]:
                        print(f"configuration of central-0 ({work}):\n{config}", flush=True)
                    row["work"] = work
                    results[work][count].append(row)
                    print(json.dumps(row, default=str), flush=True)
            if args.profile:
                # One more run, not counted: py-spy takes a share of a core.
                row = run_once(servers, build, f"w{number}-profile", 1, args.profile)
                profiles[work] = row["profile"]
                print(f"profile of one instance, {work}: {json.dumps(row['profile'])}", flush=True)
    finally:
        for stop_one in reversed(stops):
            stop_one()
    print(f"after: {uptime()}")
    print_tables(results, units, profiles)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
