"""Provenance: a trace among 10 million events, and what recording costs a shipment.

    .venv/bin/python bench/bench_provenance.py [--events 10000000] [--lookups 200]
        [--files 2000] [--size 4096] [--rounds 5] [--no-postgres] [--work lookup,ship]

Two measurements:

* **lookup** — the events table of a ledger is filled with ``--events``
  events (four per file: received, claimed, delivered, moved; names in no
  particular order, times increasing), on SQLite and on PostgreSQL (the
  test suite's server, started here).  The fill is a bulk load (indexes
  built after it), untimed.  Timed: :func:`entrepot.provenance.find` of one
  file's name, ``--lookups`` names drawn at random, in a warm process
  (goal: median ≤ 50 ms); and the whole ``entrepot trace NAME`` command.
* **ship** — ``entrepot ship SPOOL URL --parallel 4`` of ``--files`` files
  of ``--size`` bytes (put with ``entrepot spool put``, untimed), to the
  test suite's pyftpdlib server in a process of its own and to a local
  folder, with provenance on and with ``--no-provenance``, rounds
  alternating after an untimed one (the state folder and its tables are
  kept, as in a deployment; an ``on`` round's ship also files the receipts
  its ``spool put`` journaled); the cost is the ratio of the medians
  (goal ≤ 1.05).  Every
  round checks what landed (names, sizes, SHA-256) and, with provenance
  on, that every file's trace ends delivered and moved to ``cur/``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from entrepot.db import make_engine
from entrepot.provenance import find
from entrepot.provenance.schema import ensure_tables, events_table
from harness import ENTREPOT, check, folder_digests, options, random_files, scratch

# isort: split
from bench_targets_common import ServerProcess

KINDS = ("received", "claimed", "delivered", "moved")
CHUNK = 200_000
PASSWORD_VARIABLE = "BENCH_TARGET_PASSWORD"


def file_name(number: int) -> str:
    # A multiplicative hash: names arrive in no order the index could profit from.
    return f"{(number * 2654435761) % 2**32:08x}-{number}.csv"


def event_rows(events: int, place: str) -> Iterator[tuple[Any, ...]]:
    start = time.time() - events * 0.01
    for number in range(events // 4):
        name = file_name(number)
        checksum = f"sha256:{number:064x}"
        for step, kind in enumerate(KINDS):
            at = start + (number * 4 + step) * 0.01
            target = "ftp://partner@ftp.example.org/in" if kind == "delivered" else None
            details = '{"to":"cur"}' if kind == "moved" else "{}"
            yield (
                at,
                kind,
                place,
                name,
                4096,
                checksum,
                "job-1",
                "bench",
                "ok",
                target,
                1,
                details,
            )


COLUMNS = ("at", "kind", "place", "name", "size", "checksum", "job_id", "host", "outcome",
           "target", "attempt", "details")  # fmt: skip
INDEXES = list(events_table.indexes)


def fill(url: str, events: int) -> float:
    """Bulk-load ``events`` events into the ledger at ``url``; return the seconds it took."""
    engine = make_engine(url, purpose="ledger")
    ensure_tables(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        for index in INDEXES:
            index.drop(conn)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rows = event_rows(events, "/var/spool/entrepot/outbox")
        if engine.dialect.name == "postgresql":
            copy_sql = f"COPY {events_table.name} ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.execute("PRAGMA synchronous = OFF")
            marks = ", ".join("?" for _ in COLUMNS)
            insert = f"INSERT INTO {events_table.name} ({', '.join(COLUMNS)}) VALUES ({marks})"
            cursor.execute("BEGIN")
            while batch := [row for _, row in zip(range(CHUNK), rows, strict=False)]:
                cursor.executemany(insert, batch)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        for index in INDEXES:
            index.create(conn)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {events_table.name}")
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def lookups(url: str, events: int, count: int) -> dict[str, Any]:
    """Time ``find`` of ``count`` random names, and the ``entrepot trace`` command."""
    engine = make_engine(url, purpose="ledger")
    rng = random.Random(20261205)
    names = [file_name(rng.randrange(events // 4)) for _ in range(count)]
    find(engine, names[0])  # the connection and the statement cache, once
    times = []
    for name in names:
        started = time.perf_counter()
        journey = find(engine, name)
        times.append(time.perf_counter() - started)
        check([e.kind for e in journey] == list(KINDS), f"{name}: {journey}")
    engine.dispose()
    command = []
    state = scratch("provenance-trace-state")
    for name in names[:5]:
        argv = [ENTREPOT, "trace", name, "--ledger", url, "--state", str(state)]
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        command.append(time.perf_counter() - started)
        check(proc.returncode == 0 and "delivered to" in proc.stdout, proc.stdout + proc.stderr)
    times.sort()
    return {
        "find_median_ms": round(statistics.median(times) * 1000, 2),
        "find_p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2),
        "trace_command_median_s": round(statistics.median(command), 3),
    }


def lookup_rows(args: Any, base: Path) -> list[dict[str, Any]]:
    rows = []
    with ExitStack() as stack:
        urls = {"sqlite": f"sqlite:///{base / 'lookup.sqlite3'}"}
        (base / "lookup.sqlite3").unlink(missing_ok=True)
        if not args.no_postgres:
            from tests.servers import postgres

            server = postgres._start()
            stack.callback(server.stop)
            urls["postgresql"] = server.url(server.create_database())
        for backend, url in urls.items():
            seconds = fill(url, args.events)
            row = {"work": f"trace 1 name among {args.events:,} events", "backend": backend}
            row |= {"fill_s": round(seconds, 1), **lookups(url, args.events, args.lookups)}
            row["goal"] = "find ≤ 50 ms"
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def ship_once(url: str, spool: Path, drop: Path, state: Path, provenance: bool) -> float:
    """One timed ``entrepot ship`` of a filled spool; checks what landed and what was traced."""
    argv = [ENTREPOT, "ship", str(spool), url, "--parallel", "4", "--state", str(state)]
    if url.startswith("ftp"):
        argv += ["--password-env", PASSWORD_VARIABLE]
    if not provenance:
        argv.append("--no-provenance")
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    check(proc.returncode == 0, proc.stdout + proc.stderr)
    return elapsed


def ship_rows(args: Any, base: Path) -> list[dict[str, Any]]:
    sources = random_files(base / "sources", args.files, args.size)
    expected = folder_digests(base / "sources")
    rows = []
    with ServerProcess(base / "servers") as servers:
        ftp = servers.info["ftp"]
        os.environ[PASSWORD_VARIABLE] = ftp["password"]
        remotes = {
            "ftp": (f"ftp://{ftp['user']}@127.0.0.1:{ftp['port']}", Path(ftp["root"])),
            "file": ((base / "drops").as_uri(), base / "drops"),
        }
        for protocol, (root_url, root) in remotes.items():
            times: dict[bool, list[float]] = {True: [], False: []}
            # One state folder, as a deployment has: its tables exist after the warm-up.
            state = base / f"state-{protocol}"
            for number in range(-1, args.rounds * 2):
                provenance = number % 2 == 0 or number < 0
                folder = f"r{number + 1}"
                (root / folder).mkdir(parents=True)
                spool = base / "spool"
                shutil.rmtree(spool, ignore_errors=True)
                put = [ENTREPOT, "spool", "put", "--create", str(spool), "--state", str(state)]
                put += [] if provenance else ["--no-provenance"]
                subprocess.run(put + [str(p) for p in sources], check=True, capture_output=True)
                elapsed = ship_once(f"{root_url}/{folder}", spool, root / folder, state, provenance)
                if number >= 0:
                    times[provenance].append(elapsed)
                check(folder_digests(root / folder) == expected, f"{protocol}: wrong files")
                if provenance:
                    traced = subprocess.run(
                        [ENTREPOT, "trace", "*", "--route", str(spool), "--since", "10m",
                         "--state", str(state), "--json"],
                        capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    journeys = json.loads(traced.stdout)
                    check(len(journeys) == args.files, "not every file was traced")
                    check(all(j["events"][-1]["kind"] == "moved" for j in journeys), "journey")
                shutil.rmtree(root / folder)
            on, off = statistics.median(times[True]), statistics.median(times[False])
            row = {
                "work": f"entrepot ship {args.files} × {args.size} B to {protocol}, -j 4",
                "provenance_on_s": round(on, 3),
                "provenance_off_s": round(off, 3),
                "cost": round(on / off, 3),
                "goal": "≤ 1.05",
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--work", default="lookup,ship")
    args = parser.parse_args()
    base = scratch("provenance")
    rows = []
    if "lookup" in args.work:
        rows += lookup_rows(args, base)
    if "ship" in args.work:
        rows += ship_rows(args, base)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
