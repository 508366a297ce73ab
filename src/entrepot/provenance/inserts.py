"""Writing events into the events table: many rows to a statement.

Every event arrives fresh (:mod:`.folding`): in the small index of fresh
events, not in the large index on names.

One statement of many rows, not ``executemany``: the driver binds a
statement's values in C and steps it once, instead of handing the
interpreter's lock over and back for each row.  While transfers ran in
other threads, a recorder's batch of 1,000 events took 20–40 ms this way,
35–67 ms with ``executemany``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError

from entrepot.db import MAX_VALUES, groups
from entrepot.provenance.journal import COLUMNS, Row
from entrepot.provenance.journal_lines import storable
from entrepot.provenance.schema import add_to_hours, events_table
from entrepot.provenance.steps import Counts

__all__ = ["insert_rows"]

#: Rows per INSERT statement: as many as one statement may bind values of
#: (:data:`~entrepot.db.MAX_VALUES`; 66 rows, 990 values).
_PER_INSERT = MAX_VALUES // len(COLUMNS)


def insert_rows(conn: Connection, rows: Sequence[Row], counts: Counts | None = None) -> None:
    """Insert event rows (:func:`~.journal.event_row`), :data:`_PER_INSERT` to a
    statement, and count them into their hours (``counts``: counted already), in the
    caller's transaction."""
    if not rows:
        return
    for chunk in groups(rows, _PER_INSERT):
        sql = _insert_sql(conn.dialect.paramstyle, len(chunk))
        try:
            conn.exec_driver_sql(sql, _flat(chunk))
        except (UnicodeEncodeError, StatementError) as exc:
            if not isinstance(getattr(exc, "orig", exc), UnicodeEncodeError):
                raise
            # A text no database stores (a folder whose name is not UTF-8): as it is shown.
            conn.exec_driver_sql(sql, _flat(storable(chunk)))
    add_to_hours(conn, rows, counts)


@functools.cache
def _insert_sql(paramstyle: str, count: int) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    row = f"({', '.join(mark for _ in COLUMNS)}, 1)"
    return (
        f"INSERT INTO {events_table.name} ({', '.join(COLUMNS)}, fresh) "  # noqa: S608
        f"VALUES {', '.join([row] * count)}"
    )


def _flat(rows: Sequence[Row]) -> tuple[Any, ...]:
    return tuple(itertools.chain.from_iterable(rows))
