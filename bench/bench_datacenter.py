"""Data center benchmark: validated CSV imports against plain bulk loaders.

Run:  .venv/bin/python bench/bench_datacenter.py [--rows 200000] [--rounds 3] [--no-postgres]
          [--reader arrow|csv] [--check-worker auto|on|off] [--bad-every N]

One generated CSV file (``--rows`` rows, 10 columns: integer key, texts,
integer, decimal, boolean, date, datetime, choice, regex-checked code) is
loaded side by side, in alternating order inside every round:

(a) Entrepôt ``import_file`` (create mode, every cell checked, finished
    file written, source distributed) into SQLite, against the ``sqlite3``
    command's ``.import`` into the same table (no checks at all);
(b) the same Entrepôt import against pandas ``read_csv`` + ``to_sql`` into
    SQLite (pandas lives in a venv under ``bench/.work/``, created on first
    run; the time is measured inside its process, without interpreter start);
(c) Entrepôt into PostgreSQL 15 (COPY underneath) against ``psql \\copy``,
    on a server started for the run like the test fixture does.

``--bad-every N`` spoils the code of every N-th row (it no longer matches
its pattern): Entrepôt then leaves those rows pending with their reason and
imports the others, while the references, which check nothing, load them
all.

``--reader`` chooses who parses the rows: Apache Arrow (``arrow``, the
default of ``import_file``) or the ``csv`` module throughout (``csv``).
``--check-worker`` chooses, for the ``csv`` reader, whether Entrepôt checks
the chunks in a second process (``on``), never (``off``), or decides by file
size and load (``auto``); ``on`` makes the ``arrow`` reader step aside.

Prints the median seconds of each and the ratios (reference time divided by
Entrepôt time: higher is better for Entrepôt; 1.0 means as fast).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.imports.options import READERS, Reader

WORK = Path(__file__).parent / ".work"
PANDAS_VENV = WORK / "pandas-venv"
PANDAS = ["pandas>=2.2"]

SCHEMA = """
[tables.people]
key = ["id"]
[tables.people.columns]
id = { type = "integer" }
name = { type = "text", required = true }
email = { type = "text" }
age = { type = "integer" }
score = { type = "decimal" }
active = { type = "boolean" }
born = { type = "date" }
created = { type = "datetime" }
status = { type = "choice", choices = ["new", "active", "closed"] }
code = { type = "regex", pattern = "[A-Z]{3}-[0-9]{4}" }
"""

SQLITE_DDL = """CREATE TABLE people (
    id BIGINT NOT NULL PRIMARY KEY, name TEXT, email TEXT, age BIGINT, score VARCHAR,
    active BOOLEAN, born DATE, created DATETIME, status TEXT, code TEXT);"""

POSTGRES_DDL = """CREATE TABLE people (
    id BIGINT NOT NULL PRIMARY KEY, name TEXT, email TEXT, age BIGINT, score NUMERIC,
    active BOOLEAN, born DATE, created TIMESTAMP, status TEXT, code TEXT);"""

PANDAS_SCRIPT = """
import sqlite3, sys, time
import pandas as pd
source, database = sys.argv[1], sys.argv[2]
start = time.perf_counter()
frame = pd.read_csv(source)
with sqlite3.connect(database) as conn:
    frame.to_sql("people", conn, index=False, if_exists="append")
print(time.perf_counter() - start)
"""


def generate(path: Path, rows: int, bad_every: int = 0) -> None:
    rng = random.Random(42)
    statuses = ("new", "active", "closed")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "name", "email", "age", "score", "active", "born", "created", "status", "code"]
        )
        for number in range(1, rows + 1):
            writer.writerow(
                [
                    number,
                    f"Person {number} {rng.choice(['Smith', 'Okafor', 'Müller', 'Ng'])}",
                    f"p{number}@example.org",
                    rng.randint(16, 90),
                    f"{rng.randint(0, 9999)}.{rng.randint(0, 99):02d}",
                    rng.choice(("true", "false")),
                    f"{rng.randint(1950, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                    f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
                    rng.choice(statuses),
                    f"{''.join(rng.choices('ABCDEFGHIJ', k=3))}-{rng.randint(0, 9999):04d}"
                    if not bad_every or number % bad_every
                    else "not-a-code",
                ]
            )


# -- the contenders: each gets a fresh folder and returns seconds ---------------


#: The ``parallel`` and ``reader`` arguments of ``import_file`` (set from the options).
CHECK_WORKER: bool | None = None
READER: Reader = "arrow"
#: Rows Entrepôt must leave pending (set from --bad-every).
EXPECTED_FAILED = 0


def entrepot_import(source: Path, folder: Path, database: str | None = None) -> float:
    center = DataCenter(folder / "dc", database=database, schema=parse_schema(SCHEMA), create=True)
    os.link(source, center.root / "people.csv")
    start = time.perf_counter()
    result = center.import_file(
        "people.csv", "people", chunk_size=20000, parallel=CHECK_WORKER, reader=READER
    )
    elapsed = time.perf_counter() - start
    center.close()
    assert result.failed == EXPECTED_FAILED, result
    return elapsed


def sqlite3_import(source: Path, folder: Path) -> float:
    database = folder / "ref.sqlite"
    subprocess.run(["sqlite3", str(database), SQLITE_DDL], check=True)
    start = time.perf_counter()
    subprocess.run(
        ["sqlite3", str(database), f".import --csv --skip 1 {source} people"],
        check=True,
    )
    return time.perf_counter() - start


def pandas_python() -> Path:
    python = PANDAS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PANDAS_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *PANDAS,
            ],
            check=True,
        )
    return python


def pandas_import(source: Path, folder: Path) -> float:
    script = folder / "pandas_load.py"
    script.write_text(PANDAS_SCRIPT)
    proc = subprocess.run(
        [str(pandas_python()), str(script), str(source), str(folder / "pandas.sqlite")],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


class Postgres:
    """A throw-away PostgreSQL 15 server, started as the test fixture does."""

    def __init__(self) -> None:
        # The server helper lives with the tests, at the project root.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.servers import postgres

        self.server = postgres._start()
        self.psql = str(self.server.bin_dir / "psql")

    def fresh_database(self) -> str:
        return self.server.create_database()

    def psql_env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.server.password}

    def psql_args(self, database: str) -> list[str]:
        server = self.server
        return [
            self.psql,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            database,
        ]

    def copy_import(self, source: Path, folder: Path) -> float:
        database = self.fresh_database()
        env = self.psql_env()
        subprocess.run([*self.psql_args(database), "-c", POSTGRES_DDL], check=True, env=env)
        start = time.perf_counter()
        subprocess.run(
            [*self.psql_args(database), "-c", f"\\copy people FROM '{source}' CSV HEADER"],
            check=True,
            env=env,
        )
        return time.perf_counter() - start

    def entrepot_import(self, source: Path, folder: Path) -> float:
        return entrepot_import(source, folder, self.server.url(self.fresh_database()))

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.server.base, ignore_errors=True)


def measure(
    contenders: dict[str, Callable[[Path, Path], float]], source: Path, rounds: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for number in range(rounds):
        # Alternate the order so that a noisy neighbour hurts both sides alike.
        order = names if number % 2 == 0 else list(reversed(names))
        for name in order:
            with tempfile.TemporaryDirectory(dir=WORK) as folder:
                times[name].append(contenders[name](source, Path(folder)))
    return times


def report(
    title: str, times: dict[str, list[float]], ours: str, reference: str, goal: float
) -> None:
    mine = statistics.median(times[ours])
    theirs = statistics.median(times[reference])
    ratio = theirs / mine
    verdict = "meets" if ratio >= goal else "MISSES"
    print(f"\n{title}")
    for name, values in times.items():
        print(f"  {name:<28} median {statistics.median(values):7.3f} s   runs {values}")
    print(f"  ratio {reference}/{ours} = {ratio:.2f}x  (goal >= {goal}x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="skip (c)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip (a) and (b)")
    parser.add_argument("--reader", choices=READERS, default="arrow")
    parser.add_argument("--check-worker", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--bad-every", type=int, default=0, metavar="N")
    args = parser.parse_args()
    global CHECK_WORKER, READER, EXPECTED_FAILED
    EXPECTED_FAILED = args.rows // args.bad_every if args.bad_every else 0
    CHECK_WORKER = {"auto": None, "on": True, "off": False}[args.check_worker]
    READER = args.reader
    WORK.mkdir(exist_ok=True)
    pandas_python()
    with tempfile.TemporaryDirectory(dir=WORK) as folder:
        source = Path(folder) / "people.csv"
        generate(source, args.rows, args.bad_every)
        size = source.stat().st_size
        print(
            f"{args.rows} rows, 10 columns, {size / 1e6:.1f} MB; {args.rounds} rounds; "
            f"reader {args.reader}, check worker {args.check_worker}"
            + (f", every {args.bad_every}th row invalid" if args.bad_every else "")
        )
        if not args.no_sqlite:
            sqlite_times = measure(
                {
                    "entrepot -> sqlite": entrepot_import,
                    "sqlite3 .import": sqlite3_import,
                    "pandas read_csv+to_sql": pandas_import,
                },
                source,
                args.rounds,
            )
            report(
                "(a) SQLite, against sqlite3 .import",
                sqlite_times,
                "entrepot -> sqlite",
                "sqlite3 .import",
                0.5,
            )
            report(
                "(b) SQLite, against pandas",
                sqlite_times,
                "entrepot -> sqlite",
                "pandas read_csv+to_sql",
                1.0,
            )
        if not args.no_postgres:
            postgres = Postgres()
            try:
                pg_times = measure(
                    {
                        "entrepot -> postgresql": postgres.entrepot_import,
                        "psql \\copy": postgres.copy_import,
                    },
                    source,
                    args.rounds,
                )
            finally:
                postgres.stop()
            report(
                "(c) PostgreSQL, against psql \\copy",
                pg_times,
                "entrepot -> postgresql",
                "psql \\copy",
                0.5,
            )


if __name__ == "__main__":
    main()
