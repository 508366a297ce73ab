"""On PostgreSQL, Arrow-read chunks end where csv-read chunks do.

Random files are imported with each reader into its own database and must
give the same counts, the same stored values (in PostgreSQL's own text form)
and the same pending and finished files; and random qualifying columns are
loaded through :func:`entrepot.datacenter.imports.fast_path.insert_raw` once as an
:class:`~entrepot.datacenter.imports.arrow_reader.ArrowChunk` (CSV ``COPY`` written by
Arrow) and once as row lists, storing the same text.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, text
from sqlalchemy.engine import Connection, Engine

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.database import _sql_type
from entrepot.datacenter.imports import arrow_reader, fast_path
from tests.unit.test_dc_arrow_imports import import_files
from tests.unit.test_dc_fast_path import CELLS, COLUMNS, SCHEMA, column_spec

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture(scope="module")
def databases(postgres_server: Any) -> dict[str, str]:
    """One database per reader, emptied before each import."""
    return {
        reader: postgres_server.url(postgres_server.create_database())
        for reader in ("arrow", "csv")
    }


def emptied(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def import_on(folder: Path, url: str, data: bytes, chunk_size: int, reader: Any) -> dict[str, Any]:
    emptied(url)
    center = DataCenter(folder, database=url, schema=parse_schema(SCHEMA), create=True)
    try:
        (folder / "t.csv").write_bytes(data)
        result = center.import_file("t.csv", "things", chunk_size=chunk_size, reader=reader)
        selected = ", ".join(f"{name}::text" for name in COLUMNS)
        with center.database.engine.connect() as conn:
            query = text(f"SELECT {selected} FROM things ORDER BY id")
            rows = [tuple(row) for row in conn.execute(query)]
        pending = folder / "t.create.pending.csv"
        finished = folder / "finished" / "t.create.finished.csv"
        return {
            "counts": (result.processed, result.successful, result.failed),
            "rows": rows,
            "pending": pending.read_text(encoding="utf-8") if pending.exists() else None,
            "finished": finished.read_text(encoding="utf-8") if finished.exists() else None,
        }
    finally:
        center.close()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=import_files())
def test_both_readers_import_alike(
    databases: dict[str, str], file: tuple[bytes, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, chunk_size = file
    calls: list[int] = []
    real = arrow_reader.read_chunks

    def spy(*args: Any, **kwargs: Any) -> Iterator[Any]:
        calls.append(1)
        yield from real(*args, **kwargs)

    with tempfile.TemporaryDirectory() as folder, monkeypatch.context() as patch:
        patch.setattr(arrow_reader, "read_chunks", spy)
        arrow = import_on(Path(folder) / "a", databases["arrow"], data, chunk_size, "arrow")
        csv_only = import_on(Path(folder) / "c", databases["csv"], data, chunk_size, "csv")
    assert calls == [1]
    assert arrow == csv_only


@pytest.fixture(scope="module")
def engine(postgres_server: Any) -> Iterator[Engine]:
    engine = create_engine(postgres_server.url(postgres_server.create_database()))
    yield engine
    engine.dispose()


def stored(conn: Connection) -> list[Any]:
    return list(conn.execute(text("SELECT n::text, c::text FROM t ORDER BY n")).all())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    kind=st.sampled_from(sorted(CELLS)),
    required=st.booleans(),
    some=st.booleans(),
)
def test_an_arrow_chunk_copies_what_the_row_lists_copy(
    engine: Engine, data: st.DataObject, kind: str, required: bool, some: bool
) -> None:
    spec = column_spec(kind)
    cells = data.draw(st.lists(CELLS[kind], min_size=1, max_size=8))
    form = fast_path.sqlite_form(spec, cells, required=required)
    if form is None:
        return
    numbers = [str(n) for n in range(len(cells))]
    rows = [[n, cell] for n, cell in zip(numbers, cells, strict=True)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["n", "c"], *rows])
    try:
        (chunk,) = arrow_reader.read_chunks(io.BytesIO(buffer.getvalue().encode()), 2, len(rows))
    except arrow_reader.Unreadable:
        # Declined on purpose (e.g. a cell holding a carriage return): the csv reader takes
        # such a file, so there is no Arrow chunk to compare.
        return
    if chunk.rows() != rows:
        pytest.fail(f"Arrow misread {rows!r}")
    good = sorted(set(data.draw(st.lists(st.integers(0, len(rows) - 1))))) if some else None
    table = Table("t", MetaData(), Column("n", Integer), Column("c", _sql_type(spec)))
    columns = [(0, "n"), (1, "c")]
    with engine.begin() as conn:
        table.create(conn)
        try:
            chosen = rows if good is None else [rows[pos] for pos in good]
            fast_path.insert_raw(conn, table, columns, ["?", form], chosen, 2)
            from_rows = stored(conn)
            conn.execute(text("DELETE FROM t"))
            fast_path.insert_raw(conn, table, columns, ["?", form], chunk, 2, good)
            from_arrow = stored(conn)
        finally:
            table.drop(conn)
    assert from_arrow == from_rows, (cells, good)


@pytest.mark.parametrize(
    ("cells", "text_format"),
    [
        (["plain", "", "é ü", "a,b", "x y"], True),
        (['say "hi"', "plain"], False),
        (["back\\slash", "plain"], False),
        (["tab\there", ""], False),
        (["two\nlines", ""], False),
        (["\\N", "."], False),
    ],
    ids=["plain", "quote", "backslash", "tab", "newline", "null-marker"],
)
def test_a_chunk_goes_as_copy_text_when_it_can_and_as_csv_otherwise(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, cells: list[str], text_format: bool
) -> None:
    from entrepot.datacenter.table_schema import ColumnSpec

    spec = ColumnSpec(type="text")
    rows = [[str(n), cell] for n, cell in enumerate(cells)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["n", "c"], *rows])
    try:
        (chunk,) = arrow_reader.read_chunks(io.BytesIO(buffer.getvalue().encode()), 2, len(rows))
    except arrow_reader.Unreadable:
        # Declined on purpose (e.g. a cell holding a carriage return): the csv reader takes
        # such a file, so there is no Arrow chunk to compare.
        return
    statements: list[str] = []
    real_copy = fast_path._copy

    def copy(conn: Connection, target: str, column_list: str, data: bytes, options: str) -> None:
        statements.append(options)
        real_copy(conn, target, column_list, data, options)

    monkeypatch.setattr(fast_path, "_copy", copy)
    table = Table("t", MetaData(), Column("n", Integer), Column("c", _sql_type(spec)))
    form = fast_path.sqlite_form(spec, cells, required=False)
    assert form is not None
    with engine.begin() as conn:
        table.create(conn)
        try:
            fast_path.insert_raw(conn, table, [(0, "n"), (1, "c")], ["?", form], chunk, 2)
            got = list(conn.execute(text("SELECT c FROM t ORDER BY n")).scalars())
        finally:
            table.drop(conn)
    (options,) = statements
    assert options.startswith("FORMAT text" if text_format else "FORMAT csv")
    # An empty cell is NULL either way, as the general path stores it.
    assert got == [cell or None for cell in cells]
