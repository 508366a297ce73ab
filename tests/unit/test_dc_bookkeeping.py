"""The data center's own tables: versioned, and upgraded in place from the release before.

``tests/integration/test_dc_postgres_bookkeeping.py`` runs these tests again
against a real PostgreSQL.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.datacenter import Database, DataCenter, parse_schema
from entrepot.datacenter.bookkeeping import SCHEMA_COMPONENT
from entrepot.db import schema_version

SCHEMA = """
[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "text" }
name = { type = "text" }
"""

#: The bookkeeping tables as the release before versioned schemas made them.
PREVIOUS_RELEASE = [
    """CREATE TABLE dc_import_jobs (
        job_id VARCHAR(64) NOT NULL, source_name TEXT NOT NULL,
        active_source VARCHAR(64), source_key VARCHAR(64) NOT NULL,
        original_name TEXT NOT NULL, table_name TEXT NOT NULL, mode VARCHAR(16) NOT NULL,
        digest VARCHAR(64) NOT NULL, user_name TEXT NOT NULL, chunk_size INTEGER NOT NULL,
        encoding VARCHAR(32) NOT NULL, stage VARCHAR(16) NOT NULL,
        from_pending BOOLEAN NOT NULL, rows_total INTEGER, rows_ok INTEGER,
        rows_failed INTEGER, merged_digest VARCHAR(64), started TIMESTAMP NOT NULL,
        duration FLOAT, PRIMARY KEY (job_id), UNIQUE (active_source))""",
    "CREATE INDEX ix_dc_import_jobs_source_key ON dc_import_jobs (source_key)",
    """CREATE TABLE dc_import_chunks (
        job_id VARCHAR(64) NOT NULL, chunk_no INTEGER NOT NULL, rows_ok INTEGER NOT NULL,
        rows_failed INTEGER NOT NULL, errors TEXT NOT NULL, PRIMARY KEY (job_id, chunk_no))""",
    """CREATE TABLE dc_backup_files (
        path TEXT NOT NULL, length BIGINT NOT NULL, PRIMARY KEY (path))""",
]
OLD_ID = "0f3c9a1e5b7d4c2a8e6f1b3d5a7c9e0f"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dc.sqlite'}"


def interrupted_by_the_previous_release(root: Path, url: str) -> None:
    """The state a kill left: chunk 0 of five rows (two a chunk) committed."""
    source = root / "s.csv"
    source.write_text("student_id,name\nS1,a\nS2,b\nS3,c\nS4,d\nS5,e\n")
    database = Database(url)
    try:
        spec = parse_schema(SCHEMA).table("students")
        database.table(spec, create=False).create(database.engine)
        key = hashlib.sha256(f"{root}\0s.csv".encode()).hexdigest()
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        with database.engine.begin() as conn:
            for statement in PREVIOUS_RELEASE:
                conn.execute(sa.text(statement))
            conn.execute(
                sa.text(
                    "INSERT INTO dc_import_jobs (job_id, source_name, active_source, source_key,"
                    " original_name, table_name, mode, digest, user_name, chunk_size, encoding,"
                    " stage, from_pending, started, duration) VALUES (:id, 's.csv', :key, :key,"
                    " 's.csv', 'students', 'create', :digest, 'ops', 2, 'utf-8-sig',"
                    " 'importing', false, :started, 0.1)"
                ),
                {"id": OLD_ID, "key": key, "digest": digest, "started": datetime(2026, 1, 2)},
            )
            conn.execute(
                sa.text("INSERT INTO dc_import_chunks VALUES (:id, 0, 2, 0, '{}')"), {"id": OLD_ID}
            )
            conn.execute(sa.text("INSERT INTO students VALUES ('S1', 'a'), ('S2', 'b')"))
    finally:
        database.dispose()


def test_an_import_interrupted_under_the_previous_release_finishes_after_the_upgrade(
    tmp_path: Path, db_url: str
) -> None:
    root = tmp_path / "dc"
    center = DataCenter(root, database=db_url, schema=parse_schema(SCHEMA), create=True)
    interrupted_by_the_previous_release(root, db_url)

    result = center.import_file("s.csv", "students")

    assert result.resumed and (result.processed, result.successful, result.failed) == (5, 5, 0)
    engine = center.database.engine
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT student_id FROM students ORDER BY 1")).scalars()
        assert list(names) == ["S1", "S2", "S3", "S4", "S5"]
        found = set(sa.inspect(conn).get_table_names())
    assert {"dc_imports", "dc_committed_chunks"} <= found
    assert not found & {"dc_import_jobs", "dc_import_chunks"}
    assert schema_version(engine, SCHEMA_COMPONENT) == 2
    assert center.log.search(f"job={OLD_ID}$") and result.job_id == OLD_ID
    center.close()


def test_a_new_database_gets_the_current_tables_once(tmp_path: Path, db_url: str) -> None:
    first = Database(db_url)
    second = Database(db_url)
    try:
        first.ensure_bookkeeping()
        second.ensure_bookkeeping()
        assert schema_version(first.engine, SCHEMA_COMPONENT) == 2
        columns: Any = {c["name"] for c in sa.inspect(first.engine).get_columns("dc_imports")}
        assert {"earlier_ids", "empty_cells"} <= columns
    finally:
        first.dispose()
        second.dispose()
