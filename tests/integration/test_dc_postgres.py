"""The data center import tests again, against a real PostgreSQL 15.

Every test of ``tests/unit/test_dc_import.py`` and ``test_dc_import_input.py``
runs here with ``db_url`` pointing at a fresh database on the session's server
(bulk inserts then go through COPY), plus a few checks that only make sense on
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from entrepot.datacenter import DataCenter, parse_schema
from tests.unit.dc_imports import SCHEMA, put, rows_of
from tests.unit.test_dc_import import *  # noqa: F403 - the shared import tests
from tests.unit.test_dc_import_input import *  # noqa: F403 - and those of bad input

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return postgres_url


def test_tables_are_real_postgres_tables(center: DataCenter) -> None:
    put(center, "s.csv", "student_id,name,fee,born\nS0001,Ann,12.345,2001-02-03\n")
    assert center.import_file("s.csv", "students").all_ok
    with center.database.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text(
                    "select column_name, data_type from information_schema.columns "
                    "where table_name = 'students'"
                )
            ).all()
        )
    assert kinds["fee"] == "numeric" and kinds["born"] == "date"
    assert str(rows_of(center, "students")[0]["fee"]) == "12.345"


def test_two_data_centers_share_one_database(tmp_path: Path, postgres_url: str) -> None:
    schema = parse_schema(SCHEMA)
    first = DataCenter(tmp_path / "a", database=postgres_url, schema=schema, create=True)
    second = DataCenter(tmp_path / "b", database=postgres_url, schema=schema, create=True)
    try:
        put(first, "x.csv", "student_id,name\nS0001,Ann\nS0002,Bob\n")
        put(second, "x.csv", "student_id,name\nS0002,Bob\nS0003,Cid\n")
        assert first.import_file("x.csv", "students").all_ok
        result = second.import_file("x.csv", "students")
        assert (result.successful, result.failed) == (1, 1)
        assert len(rows_of(first, "students")) == 3
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("chunk_size", [5000, 1], ids=["one-chunk", "two-chunks"])
def test_a_concurrent_writer_between_check_and_write_is_retried(
    center: DataCenter, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    """Another session inserts a key right after our look-up: the transaction is redone.

    With one row per chunk, the racing key is in the second chunk of the
    transaction: both chunks are written again, the first one once only.
    """
    from sqlalchemy import create_engine

    from entrepot.datacenter import table_rows

    other = create_engine(center.database.url)
    looked = table_rows.table_is_empty

    def table_is_empty_then_someone_writes(conn, table):  # type: ignore[no-untyped-def]
        answer = looked(conn, table)
        monkeypatch.setattr(table_rows, "table_is_empty", looked)
        with other.begin() as racing:
            racing.execute(
                text("insert into students (student_id, name) values ('S0002', 'Racer')")
            )
        return answer

    put(center, "s.csv", "student_id,name\nS0001,Ann\nS0002,Bob\n")
    center.database.table(center.schema.table("students"))
    monkeypatch.setattr(table_rows, "table_is_empty", table_is_empty_then_someone_writes)
    result = center.import_file("s.csv", "students", chunk_size=chunk_size)
    other.dispose()
    assert (result.successful, result.failed) == (1, 1)
    names = {row["student_id"]: row["name"] for row in rows_of(center, "students")}
    assert names == {"S0001": "Ann", "S0002": "Racer"}
    pending = (center.root / "s.create.pending.csv").read_text()
    assert "S0002,Bob,student_id: already exists: 'S0002'" in pending


def test_chunk_commits_do_not_wait_for_the_disk_but_the_barrier_does(
    center: DataCenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like SQLite's synchronous=NORMAL: the commit before files move makes them all durable."""
    from entrepot.datacenter.imports import record
    from entrepot.datacenter.imports.chunk_writer import ChunkWriter

    seen: list[tuple[str, str]] = []
    write, update = ChunkWriter.write, record.ImportRecord.update

    def writing(self, conn, chunk, plan):  # type: ignore[no-untyped-def]
        seen.append(("chunk", conn.exec_driver_sql("SHOW synchronous_commit").scalar()))
        return write(self, conn, chunk, plan)

    def updating(self, conn=None, /, **values):  # type: ignore[no-untyped-def]
        if conn is None and values.get("stage") == "distributing":
            with center.database.engine.connect() as other:
                seen.append(("barrier", other.exec_driver_sql("SHOW synchronous_commit").scalar()))
        return update(self, conn, **values)

    # The test server turns synchronous_commit off; this database has it on.
    db = center.database
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{db.url.database}" SET synchronous_commit TO on')
        conn.commit()
    db.engine.dispose()
    monkeypatch.setattr(ChunkWriter, "write", writing)
    monkeypatch.setattr(record.ImportRecord, "update", updating)
    put(center, "s.csv", "student_id,name\nS0001,Ann\nS0002,Bob\nS0003,Cy\n")
    assert center.import_file("s.csv", "students", chunk_size=1, commit_rows=2).all_ok
    assert seen == [("chunk", "off")] * 3 + [("barrier", "on")]
