"""Imports: ``entrepot dc import`` against sqlite3, pandas and psql, whole commands.

    .venv/bin/python bench/cmd_import.py [--rows 200000] [--no-postgres] [--rounds 5] [--json FILE]
        [--baseline-src DIR] [--against tools|no-provenance]

The file: ``--rows`` orders × 10 columns — ``id`` (1…N), ``customer``
(``cust_NNNNN``), ``city`` (``São Paulo``, ``Washington, D.C.``, ``Zürich``,
``Kraków``, ``The "Quoted" Town`` and five more), ``quantity`` (1–100),
``unit_price`` and ``amount`` (2 decimal places), ``discount`` (``0.NNN``),
``order_date`` and ``ship_date`` (ISO dates, ``ship_date`` empty in ≈ 5 %
of the rows), ``status`` (one of five words) — into a table ``orders`` keyed
by ``id`` with integer, text, decimal and date columns.

Rows:

* SQLite: ``entrepot dc import orders_bench.csv --root R --table orders
  --db sqlite:///…`` (data center made by ``dc init``, schema written and the
  file stored by ``dc upload`` beforehand, untimed; the ledger made before
  the rounds) against ``sqlite3 DB ".import --csv --skip 1 FILE orders"``
  (goal ≥ 0.5) and a whole ``python`` process running pandas ``read_csv`` +
  ``to_sql`` (goal ≥ 1.0), both into the table Entrepôt creates (same
  declared types and key), made beforehand;
* PostgreSQL 15, default durability (``fsync``, ``synchronous_commit`` and
  ``full_page_writes`` on — unlike the test fixture, which turns them off):
  ``entrepot dc import … --db postgresql://postgres@127.0.0.1:PORT/DB``
  against ``psql -c "\\copy orders FROM FILE CSV HEADER"`` into a table made
  beforehand (goal ≥ 0.5); both get the password from ``PGPASSWORD``; every
  run has a fresh database.

``--against no-provenance`` times, instead of the other tools, the same
command with ``--no-provenance``, alternating (goal ≥ 0.95: provenance
costs at most 5 % of an import).

``--baseline-src DIR`` adds, to each row, the same ``entrepot dc import``
run with ``PYTHONPATH=DIR`` — the ``src`` folder of another version, made
for instance by ``git archive BASE src | tar -x -C /tmp/base`` — as one
more reference: its ratio is that version's time ÷ this one's, measured in
the same interleaved rounds, so it holds under any load.

pandas lives in its own virtual environment, ``bench/.work/pandas-venv``
(made with this interpreter, ``pip install pandas`` on the first run), not in
Entrepôt's: pyarrow imports pandas whenever it finds it installed, which
would slow Entrepôt down for a reason its users do not have.

Checks after every run, in the database: the row count; the rows per city
(quotes and commas parsed alike); the number of empty ``ship_date`` cells
(NULL or empty text); every column of about 40 sample rows, compared with
the generated values (decimals as numbers, dates as ISO text).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from harness import (
    ENTREPOT,
    WORK,
    Command,
    Row,
    Side,
    check,
    new_ledger,
    options,
    run_rows,
    scratch,
)
from import_orders import (
    POSTGRES_DDL,
    SCHEMA,
    SQLITE_DDL,
    Expected,
    generate,
    sqlite_query,
    verify_table,
)

# isort: split
# (harness has put the project root on sys.path: the test servers are found)
from tests.servers import postgres

# PostgreSQL settings that must be on (the test fixture turns them off).
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")

PANDAS_VENV = WORK / "pandas-venv"
PANDAS_LOAD = """\
import sqlite3, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
with sqlite3.connect(sys.argv[2]) as conn:
    frame.to_sql("orders", conn, if_exists="append", index=False)
"""


def remove_sqlite(path: Path) -> None:
    """The database and what its journal modes leave beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def pandas_python() -> str:
    """The pandas environment's interpreter, made (with pandas installed) on first use."""
    python = PANDAS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PANDAS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pandas>=2.2"], check=True)
    return str(python)


class Importer:
    """The untimed preparation of an ``entrepot dc import`` run."""

    def __init__(self, base: Path, source: Path) -> None:
        self.base, self.source = base, source
        self.state = base / "state"
        new_ledger(self.state)

    def command(
        self, db_url: str, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
    ) -> Command:
        root = self.base / "dc"
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(
            [ENTREPOT, "dc", "init", "--root", str(root)], check=True, capture_output=True
        )
        (root / "schema.toml").write_text(SCHEMA)
        upload = [ENTREPOT, "dc", "upload", str(self.source), "--root", str(root)]
        said = subprocess.run([*upload, "--user", "bench"], check=True, capture_output=True)
        name = said.stdout.decode().split(" as ")[-1].strip()
        argv = [ENTREPOT, "dc", "import", name, "--root", str(root), "--table", "orders"]
        argv += ["--db", db_url, "--user", "bench", "--state", str(self.state), *extra]
        return Command(argv, env=env)


def baseline_env(baseline: Path | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment running ``entrepot`` from the source tree ``baseline``."""
    assert baseline is not None
    return {**(env if env is not None else os.environ), "PYTHONPATH": str(baseline)}


#: Provenance costs at most 5 % of an import: off ÷ on ≥ 1 / 1.05.
PROVENANCE_GOAL = 0.95
OFF = ("--no-provenance",)


def sqlite_row(
    base: Path,
    source: Path,
    expected: Expected,
    importer: Importer,
    baseline: Path | None,
    against: str = "tools",
) -> Row:
    database = base / "orders.sqlite"
    pandas_script = base / "pandas_load.py"
    pandas_script.write_text(PANDAS_LOAD)

    def verify(stdout: str) -> None:
        query = sqlite_query(database)
        # A typed, keyed table (not one the loader made up with text columns).
        (ddl,) = query("SELECT sql FROM sqlite_master WHERE name = 'orders'")[0]
        check(re.search(r"id BIGINT NOT NULL.*PRIMARY KEY", ddl, re.S), f"table {ddl}")
        verify_table(query, expected)

    def verified(command: Command) -> Command:
        command.verify = verify
        command.cleanup = lambda: remove_sqlite(database)
        return command

    def entrepot() -> Command:
        return verified(importer.command(f"sqlite:///{database}"))

    def entrepot_baseline() -> Command:
        return verified(importer.command(f"sqlite:///{database}", baseline_env(baseline)))

    def with_table(argv: list[str]) -> Callable[[], Command]:
        def prepare() -> Command:
            with closing(sqlite3.connect(database)) as conn:
                conn.execute(SQLITE_DDL)
            return verified(Command(argv))

        return prepare

    work = f"dc import {expected.rows:,} rows → SQLite"
    if against == "no-provenance":
        off = Side(
            "entrepot dc import --no-provenance",
            lambda: verified(importer.command(f"sqlite:///{database}", extra=OFF)),
            goal=PROVENANCE_GOAL,
            goal_text=f"≥ {PROVENANCE_GOAL}",
        )
        return Row(work, Side("entrepot dc import", entrepot), [off])
    dot_import = ["sqlite3", str(database), f".import --csv --skip 1 {source} orders"]
    pandas = [pandas_python(), str(pandas_script), str(source), str(database)]
    references = [
        Side("sqlite3 .import", with_table(dot_import), goal=0.5, goal_text="≥ 0.5"),
        Side("pandas read_csv+to_sql", with_table(pandas), goal=1.0, goal_text="≥ 1.0"),
    ]
    if baseline is not None:
        references.append(Side("entrepot, baseline tree", entrepot_baseline))
    return Row(work, Side("entrepot dc import", entrepot), references)


def durable_postgres() -> postgres.PostgresServer:
    """PostgreSQL 15 made like the test fixture's, restarted with default durability."""
    server = postgres._start()
    server.stop()
    listen = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.base / 'sock'}"
    pg_ctl = str(server.bin_dir / "pg_ctl")
    log = str(server.base / "server.log")
    started = server.run(pg_ctl, "-D", str(server.data), "-l", log, "-w", "-o", listen, "start")
    check(started.returncode == 0, f"PostgreSQL did not start again: {started.stderr}")
    return server


def postgres_row(
    server: postgres.PostgresServer,
    source: Path,
    expected: Expected,
    importer: Importer,
    baseline: Path | None,
    against: str = "tools",
) -> Row:
    import psycopg

    env = {**os.environ, "PGPASSWORD": server.password}
    psql = [str(server.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.host]
    psql += ["-p", str(server.port), "-U", server.user]

    def connect(database: str) -> psycopg.Connection[Any]:
        return psycopg.connect(server.url(database).replace("+psycopg", ""), autocommit=True)

    def verified(command: Command, database: str) -> Command:
        def query(sql: str) -> list[tuple[Any, ...]]:
            with connect(database) as conn:
                return conn.execute(sql).fetchall()

        def drop() -> None:
            with connect("postgres") as conn:
                conn.execute(f'DROP DATABASE "{database}"')

        command.verify = lambda stdout: verify_table(query, expected)
        command.cleanup = drop
        return command

    def entrepot(run_env: dict[str, str] = env, extra: tuple[str, ...] = ()) -> Command:
        database = server.create_database()
        url = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
        return verified(importer.command(url, run_env, extra), database)

    def copy() -> Command:
        database = server.create_database()
        subprocess.run([*psql, "-d", database, "-c", POSTGRES_DDL], check=True, env=env)
        argv = [*psql, "-d", database, "-c", f"\\copy orders FROM '{source}' CSV HEADER"]
        return verified(Command(argv, env=env), database)

    with connect("postgres") as conn:
        settings = [conn.execute(f"SHOW {name}").fetchone()[0] for name in DURABILITY]
    check(settings == ["on"] * len(DURABILITY), f"{DURABILITY} are {settings}")
    work = f"dc import {expected.rows:,} rows → PostgreSQL 15"
    if against == "no-provenance":
        off = Side(
            "entrepot dc import --no-provenance",
            lambda: entrepot(extra=OFF),
            goal=PROVENANCE_GOAL,
            goal_text=f"≥ {PROVENANCE_GOAL}",
        )
        return Row(work, Side("entrepot dc import", entrepot), [off])
    references = [Side("psql \\copy", copy, goal=0.5, goal_text="≥ 0.5")]
    if baseline is not None:
        references.append(
            Side("entrepot, baseline tree", lambda: entrepot(baseline_env(baseline, env)))
        )
    return Row(work, Side("entrepot dc import", entrepot), references)


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows (default 200000)")
    parser.add_argument("--no-postgres", action="store_true", help="only the SQLite rows")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL row")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        metavar="DIR",
        help="also time entrepot run from this source tree (PYTHONPATH), as a reference",
    )
    parser.add_argument(
        "--against",
        choices=("tools", "no-provenance"),
        default="tools",
        help="the references: other tools (default), or entrepot dc import --no-provenance",
    )
    args = parser.parse_args()
    baseline = args.baseline_src.absolute() if args.baseline_src else None
    base = scratch("cmd-import")
    source = base / "orders.csv"
    expected = generate(source, args.rows)
    importer = Importer(base, source)
    rows = []
    if not args.no_sqlite:
        rows.append(sqlite_row(base, source, expected, importer, baseline, args.against))
    server = None if args.no_postgres else durable_postgres()
    try:
        if server is not None:
            rows.append(postgres_row(server, source, expected, importer, baseline, args.against))
        size = f"{source.stat().st_size / 1e6:.1f} MB"
        run_rows("cmd_import", args, rows, {"rows": args.rows, "csv": size})
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.base, ignore_errors=True)


if __name__ == "__main__":
    main()
