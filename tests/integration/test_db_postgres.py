"""The database module against a real PostgreSQL 15: migrations under concurrency."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from entrepot.db import (
    Migration,
    database_url,
    ensure_schema,
    make_engine,
    schema_version,
    write_transaction,
)

pytestmark = pytest.mark.server


def test_processes_migrating_a_new_postgres_database_together(postgres_url: str) -> None:
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
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url, str(start), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, results
    engine = make_engine(postgres_url, purpose="data")
    try:
        with engine.connect() as conn:
            assert len(conn.exec_driver_sql("SELECT x FROM t1").all()) == 1
        assert schema_version(engine, "race") == 1

        def add(conn: sa.Connection) -> None:
            conn.exec_driver_sql("ALTER TABLE t1 ADD COLUMN y TEXT")

        steps = [Migration(1, "t1", lambda conn: None), Migration(2, "y", add)]
        assert ensure_schema(engine, "race", steps) == 2
        assert sa.inspect(engine).get_columns("t1")[1]["name"] == "y"
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain, purpose="ledger")
    try:
        assert database_url(plain).drivername == "postgresql+psycopg"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_a_write_transaction_that_need_not_wait_for_the_disk(postgres_url: str) -> None:
    engine = make_engine(postgres_url, purpose="ledger")
    try:
        with engine.connect() as conn:  # as the server is set up (the tests' own: off)
            server = conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()
            conn.exec_driver_sql("SET synchronous_commit TO on")  # this session, as a server's
            conn.commit()
        for durable, setting in ((None, "on"), (False, "off"), (True, "on")):
            with write_transaction(engine, durable=durable) as conn:
                shown = conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()
            assert shown == setting
        with engine.connect() as conn:  # for that transaction only
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
            conn.exec_driver_sql(f"SET synchronous_commit TO {server}")
            conn.commit()
    finally:
        engine.dispose()
