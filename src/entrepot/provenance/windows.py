"""A time window in SQL over the rows that hold several steps of a file.

A shipment's row keeps the file's receipt, its claim, its delivery and the
move after it (:mod:`.steps`), each with its own time.  ``trace --since
--until`` asks for the steps inside a window, not the rows whose delivery
is: :func:`spanning` gives the tests that keep a row holding any step in
it, read from the row's JSON columns on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

__all__ = ["MOVE_SLACK", "received_at", "spanning", "then_at"]


def received_at(table: sa.Table, dialect: str) -> sa.ColumnElement[Any]:
    """The SQL time of the receipt kept in a row of ``table`` (NULL without one), on the
    database ``dialect`` names: a query can then test each step's own time."""
    return _item(table.c.received_step, 0, dialect)


def then_at(table: sa.Table, dialect: str) -> sa.ColumnElement[Any]:
    """The SQL time of the step kept after a delivery in a row of ``table`` (NULL without)."""
    return _item(table.c.then_step, 1, dialect)


def _item(column: sa.ColumnElement[Any], index: int, dialect: str) -> sa.ColumnElement[Any]:
    if dialect == "sqlite":
        return sa.func.json_extract(column, f"$[{index}]")
    return sa.cast(sa.func.json_extract_path_text(sa.cast(column, sa.JSON), str(index)), sa.Float)


#: How long after its delivery a file's move is looked for when no name narrows the
#: search, so that the index on time still bounds it: the move follows in the same run.
MOVE_SLACK = 86_400.0


def spanning(
    t: sa.Table, dialect: str, by_name: bool, since: datetime | None, until: datetime | None
) -> list[Any]:
    """The SQL tests that a row of ``t`` keeps a step between ``since`` and ``until``
    (``by_name``: a name narrows the search, through the index on names)."""
    # Receipt <= claim <= delivery <= move: a row has a step in the window when its first
    # step comes before ``until`` and its last one at or after ``since``.
    tests: list[Any] = []
    if since is not None:
        start = since.timestamp()
        tests.append(sa.or_(t.c.at >= start, then_at(t, dialect) >= start))
        if not by_name:  # through the index on time, not every event ever
            tests.append(t.c.at >= start - MOVE_SLACK)
    if until is not None:
        end = until.timestamp()
        tests.append(sa.or_(t.c.at < end, t.c.claimed_at < end, received_at(t, dialect) < end))
    return tests
