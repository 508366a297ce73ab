"""Provenance: a trace among 10 million events, and what recording costs a shipment.

    .venv/bin/python bench/bench_provenance.py [--events 10000000] [--lookups 200]
        [--files 2000] [--size 4096] [--rounds 5] [--no-postgres] [--no-sqlite]
        [--work lookup,ship]

Two measurements:

* **lookup** — the events table of a ledger is filled with ``--events``
  events (four per file: received, claimed, delivered, moved; names in no
  particular order, times increasing), on SQLite and on PostgreSQL (the
  test suite's server, started here), in tables made by every migration of
  the provenance schema.  The fill is a bulk load (the schema's indexes
  built after it, the newest 10,000 events left fresh, as between two
  folds), untimed.  Timed, in a warm process:
  :func:`entrepot.provenance.find` of one file's name — the very call
  ``entrepot trace NAME`` makes — for ``--lookups`` names drawn at random
  (goal: median ≤ 50 ms); ``find`` of as many globs (``entrepot trace
  'PREFIX*'``, the first four characters of a drawn name: about forty
  files each at 10 M events); and the whole ``entrepot trace`` command for
  five names and five globs.  Reported with each: the schema version, the
  database's size on disk, the time and the load average.
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

import fnmatch
import json
import os
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from entrepot.db import make_engine
from entrepot.provenance import by_file, find
from entrepot.provenance.folding import FOLD_AT
from entrepot.provenance.schema import BY_NAME_INDEXES, ensure_tables, events_table
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
        for name in BY_NAME_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {name}")
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
        # As a deployment between two folds holds them: the newest events fresh, half
        # of what makes a fold (entrepot.provenance.folding).
        conn.exec_driver_sql(
            f"UPDATE {events_table.name} SET fresh = 1 "
            f"WHERE id > (SELECT max(id) FROM {events_table.name}) - {FOLD_AT // 2}"
        )
        for index in INDEXES:
            index.create(conn)
        for statement in BY_NAME_INDEXES.values():
            conn.exec_driver_sql(statement)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {events_table.name}")
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


GLOB_PREFIX = 4


def timed_finds(engine: Engine, patterns: list[str]) -> tuple[list[float], list[int]]:
    """Seconds of each ``find`` of ``patterns`` (checked), and the files each matched."""
    times, matched = [], []
    for pattern in patterns:
        started = time.perf_counter()
        events = find(engine, pattern)
        times.append(time.perf_counter() - started)
        journeys = by_file(events)
        check(all(fnmatch.fnmatchcase(n, pattern) for _, n in journeys), f"{pattern}: names")
        kinds = [[e.kind for e in journey] for journey in journeys.values()]
        check(kinds and all(k == list(KINDS) for k in kinds), f"{pattern}: {kinds}")
        matched.append(len(journeys))
    return times, matched


def spread(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 2),
    }


def command_times(url: str, patterns: list[str]) -> list[float]:
    """Seconds of the whole ``entrepot trace PATTERN`` command, one run per pattern."""
    state = scratch("provenance-trace-state")
    seconds = []
    for pattern in patterns:
        argv = [ENTREPOT, "trace", pattern, "--ledger", url, "--state", str(state)]
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        seconds.append(time.perf_counter() - started)
        check(proc.returncode == 0 and "delivered to" in proc.stdout, proc.stdout + proc.stderr)
    return seconds


def lookups(url: str, events: int, count: int) -> dict[str, Any]:
    """Time ``find`` of ``count`` random names and globs, and the ``entrepot trace`` command."""
    engine = make_engine(url, purpose="ledger")
    rng = random.Random(20261205)
    names = [file_name(rng.randrange(events // 4)) for _ in range(count)]
    globs = [name[:GLOB_PREFIX] + "*" for name in names]
    find(engine, names[0])  # the connection and the statement cache, once
    name_times, _ = timed_finds(engine, names)
    glob_times, matched = timed_finds(engine, globs)
    engine.dispose()
    found = {f"find_{k}": v for k, v in spread(name_times).items()}
    found |= {f"glob_{k}": v for k, v in spread(glob_times).items()}
    found["glob_files_median"] = statistics.median(matched)
    for what, patterns in (("trace", names[:5]), ("trace_glob", globs[:5])):
        seconds = statistics.median(command_times(url, patterns))
        found[f"{what}_command_median_s"] = round(seconds, 3)
    return found


def schema_version(url: str) -> int:
    engine = make_engine(url, purpose="ledger")
    with engine.connect() as conn:
        version = conn.exec_driver_sql(
            "SELECT version FROM entrepot_schema WHERE component = 'provenance'"
        ).scalar_one()
    engine.dispose()
    return int(version)


def size_on_disk(url: str) -> dict[str, float]:
    """The database's size, and the events table's with its indexes, in MiB."""
    engine = make_engine(url, purpose="ledger")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            database = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
            table = conn.exec_driver_sql(f"SELECT pg_total_relation_size('{events_table.name}')")
            sizes = {"database": database.scalar_one(), "events_table": table.scalar_one()}
        else:
            path = Path(str(engine.url.database))
            files = [path, path.with_name(path.name + "-wal")]
            sizes = {"database": sum(f.stat().st_size for f in files if f.exists())}
    engine.dispose()
    return {f"{what}_mib": round(size / 2**20, 1) for what, size in sizes.items()}


def lookup_rows(args: Any, base: Path) -> list[dict[str, Any]]:
    rows = []
    with ExitStack() as stack:
        urls = {} if args.no_sqlite else {"sqlite": f"sqlite:///{base / 'lookup.sqlite3'}"}
        (base / "lookup.sqlite3").unlink(missing_ok=True)
        if not args.no_postgres:
            from tests.servers import postgres

            server = postgres._start()
            stack.callback(server.stop)
            urls["postgresql"] = server.url(server.create_database())
        for backend, url in urls.items():
            seconds = fill(url, args.events)
            row = {"work": f"trace 1 name among {args.events:,} events", "backend": backend}
            row |= {"schema": schema_version(url), "fill_s": round(seconds, 1)}
            row |= size_on_disk(url)
            row["started"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            row["load_before"] = round(os.getloadavg()[0], 2)
            row |= lookups(url, args.events, args.lookups)
            row["load_after"] = round(os.getloadavg()[0], 2)
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
    parser.add_argument("--no-sqlite", action="store_true", help="the look-up on PostgreSQL only")
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
