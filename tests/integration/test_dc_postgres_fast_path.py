"""On PostgreSQL, the fast path's COPY stores what the general path's COPY stores.

For random columns whose cells qualify for :mod:`entrepot.datacenter.imports.fast_path`,
the cells are loaded both ways — as converted values through the general
path's ``COPY`` text and as the raw cells through the fast path's CSV
``COPY`` — and each stored value is compared in PostgreSQL's own text form
(so a numeric's scale counts too).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, text
from sqlalchemy.engine import Connection, Engine

from entrepot.datacenter import table_rows
from entrepot.datacenter.database import _sql_type
from entrepot.datacenter.imports import fast_path
from entrepot.datacenter.values import ColumnConverter
from tests.unit.test_dc_fast_path import CELLS, column_spec

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture(scope="module")
def engine(postgres_server: Any) -> Iterator[Engine]:
    url = postgres_server.url(postgres_server.create_database())
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


def stored(conn: Connection) -> list[Any]:
    return list(conn.execute(text("SELECT c::text FROM t ORDER BY n")).scalars())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(sorted(CELLS)), required=st.booleans())
def test_each_fast_copy_stores_what_the_general_copy_stores(
    engine: Engine, data: st.DataObject, kind: str, required: bool
) -> None:
    spec = column_spec(kind)
    cells = data.draw(st.lists(CELLS[kind], min_size=1, max_size=8))
    form = fast_path.sqlite_form(spec, cells, required=required)
    if form is None:
        return
    values, errors = ColumnConverter("c", spec).convert(cells, required=required)
    assert errors == {}
    table = Table("t", MetaData(), Column("n", Integer), Column("c", _sql_type(spec)))
    numbers = [str(n) for n in range(len(cells))]
    with engine.begin() as conn:
        table.create(conn)
        try:
            table_rows.bulk_insert(conn, table, ["n", "c"], [list(range(len(cells))), values])
            general = stored(conn)
            conn.execute(text("DELETE FROM t"))
            rows = [[n, cell] for n, cell in zip(numbers, cells, strict=True)]
            fast_path.insert_raw(conn, table, [(0, "n"), (1, "c")], ["?", form], rows, 2)
            fast = stored(conn)
        finally:
            table.drop(conn)
    assert fast == general, (cells, general, fast)


@pytest.mark.parametrize("cell", ["\r", "a\rb", "\r\n", "x\n", 'q"\r'])
def test_line_breaks_in_text_cells_survive_the_fast_copy(engine: Engine, cell: str) -> None:
    # Found by the property above: a lone CR went out unquoted and ended its row.
    spec = column_spec("text")
    table = Table("t", MetaData(), Column("n", Integer), Column("c", _sql_type(spec)))
    with engine.begin() as conn:
        table.create(conn)
        try:
            fast_path.insert_raw(conn, table, [(0, "n"), (1, "c")], ["?", "?"], [["0", cell]], 2)
            assert stored(conn) == [cell]
        finally:
            table.drop(conn)
