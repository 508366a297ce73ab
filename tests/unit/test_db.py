"""The one database module: URLs, masking, SQLite tuning, versioned schemas."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import (
    Migration,
    database_url,
    ensure_schema,
    make_engine,
    masked_url,
    schema_version,
    write_transaction,
)
from entrepot.errors import ConfigError


def test_postgres_urls_get_psycopg_everywhere() -> None:
    for scheme in ("postgresql", "postgres"):
        assert database_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_a_password_with_an_unencoded_at_is_read_to_the_last_at() -> None:
    url = database_url("postgresql://u:Pg@XSECRET@dbhost:5433/db")
    assert (url.username, url.password, url.host, url.port) == ("u", "Pg@XSECRET", "dbhost", 5433)
    assert "SECRET" not in masked_url("postgresql://u:Pg@XSECRET@dbhost:5433/db")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:SECRET@h/db",
        "postgresql://u@h/db?password=SECRET",
        "postgresql://u:a/bSECRET@h/db",
        "not a url with password=SECRET",
    ],
)
def test_masked_urls_hide_every_password(url: str) -> None:
    assert "SECRET" not in masked_url(url)


def test_relative_sqlite_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url("sqlite:///state/ledger.db").database == str(tmp_path / "state/ledger.db")
    assert database_url("sqlite://").database is None
    assert database_url("sqlite:///:memory:").database == ":memory:"


def test_bad_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        database_url("no-scheme-here")


def _pragma(engine: sa.Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_is_tuned_by_purpose(tmp_path: Path) -> None:
    ledger = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    data = make_engine(f"sqlite:///{tmp_path / 'd.db'}", purpose="data")
    try:
        assert _pragma(ledger, "journal_mode") == _pragma(data, "journal_mode") == "wal"
        assert _pragma(ledger, "synchronous") == 2  # FULL
        assert _pragma(data, "synchronous") == 1  # NORMAL
        assert _pragma(data, "wal_autocheckpoint") == 16384
        assert _pragma(ledger, "busy_timeout") == 30000
        # A run's provenance commit changes more pages than SQLite's default cache holds.
        assert _pragma(ledger, "cache_size") == _pragma(data, "cache_size") == -16384
    finally:
        ledger.dispose()
        data.dispose()


def test_a_write_transaction_waits_for_the_disk_as_asked(tmp_path: Path) -> None:
    ledger = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    data = make_engine(f"sqlite:///{tmp_path / 'd.db'}", purpose="data")

    def during(engine: sa.Engine, durable: bool | None) -> int:
        with write_transaction(engine, durable=durable) as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())

    try:
        # 2: FULL (the commit syncs the log), 1: NORMAL; each engine's own setting after.
        assert [during(ledger, d) for d in (None, False, True)] == [2, 1, 2]
        assert [during(data, d) for d in (None, False, True)] == [1, 1, 2]
        assert _pragma(ledger, "synchronous") == 2 and _pragma(data, "synchronous") == 1
        with ledger.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 3
    finally:
        ledger.dispose()
        data.dispose()


def test_write_transactions_take_the_lock_at_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    other = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    try:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with write_transaction(engine):
            # Nothing written yet, but the lock is held: another writer waits.
            raw = other.raw_connection()
            try:
                raw.execute("PRAGMA busy_timeout = 50")
                with pytest.raises(Exception, match="locked"):
                    raw.execute("BEGIN IMMEDIATE")
            finally:
                raw.close()
    finally:
        engine.dispose()
        other.dispose()


def _table_step(name: str) -> Migration:
    def apply(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {name} (x INTEGER)")

    return Migration(int(name[-1]), f"table {name}", apply)


def test_migrations_run_once_in_order_and_upgrade_in_place(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    try:
        assert schema_version(engine, "demo") == 0
        assert ensure_schema(engine, "demo", [_table_step("t1")]) == 1
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("INSERT INTO t1 VALUES (7)")
        # A newer release adds a step: the data stays, only the new step runs.
        ran: list[int] = []

        def add_column(conn: sa.Connection) -> None:
            ran.append(2)
            conn.exec_driver_sql("ALTER TABLE t1 ADD COLUMN y TEXT")

        steps = [_table_step("t1"), Migration(2, "t1.y", add_column)]
        assert ensure_schema(engine, "demo", steps) == 2
        assert ensure_schema(engine, "demo", steps) == 2
        assert ran == [2]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x, y FROM t1").all() == [(7, None)]
        assert schema_version(engine, "demo") == 2
        assert schema_version(engine, "other") == 0
    finally:
        engine.dispose()


def test_a_database_newer_than_this_release_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    try:
        ensure_schema(engine, "demo", [_table_step("t1"), _table_step("t2")])
        with pytest.raises(ConfigError, match="newer than this release"):
            ensure_schema(engine, "demo", [_table_step("t1")])
    finally:
        engine.dispose()


def test_a_failing_migration_leaves_the_old_version(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE t9 (x INTEGER)")
        raise RuntimeError("half way")

    try:
        ensure_schema(engine, "demo", [_table_step("t1")])
        with pytest.raises(RuntimeError):
            ensure_schema(engine, "demo", [_table_step("t1"), Migration(2, "broken", broken)])
        assert schema_version(engine, "demo") == 1
        assert not sa.inspect(engine).has_table("t9")
    finally:
        engine.dispose()


def test_processes_migrating_a_new_database_together(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from entrepot.db import Migration, ensure_schema, make_engine\n"
        "def step(conn):\n"
        "    conn.exec_driver_sql('CREATE TABLE t1 (x INTEGER)')\n"
        "    conn.exec_driver_sql(f'INSERT INTO t1 VALUES ({sys.argv[3]})')\n"
        "engine = make_engine(sys.argv[1], purpose='ledger')\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "print(ensure_schema(engine, 'race', [Migration(1, 't1', step)]))\n"
    )
    url = f"sqlite:///{tmp_path / 'race.db'}"
    start = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(start), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, results
    assert [out.strip() for out, _ in results] == ["1"] * 4
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        # The step ran exactly once.
        assert len(conn.exec_driver_sql("SELECT x FROM t1").all()) == 1
    engine.dispose()
