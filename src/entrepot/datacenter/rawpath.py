"""The fast path of ``create`` imports: valid cells go to the database as their text.

Most chunks of a load are entirely valid, and most valid cells already are
the text the database would store for them.  For such a chunk, checking a
column needs only C-level passes (one regular expression, a set test), and
converting it can be left to the database: SQLite gets the raw rows through
``executemany`` of multi-row ``INSERT`` statements whose ``VALUES``
expressions do the few conversions (``CAST`` for integers, ``CASE`` for
booleans, a suffix for date-times); PostgreSQL gets them through ``COPY``
(tab-joined text, or CSV when a cell holds a tab, a line break or a
backslash), whose input functions parse exactly the forms admitted here.

A column qualifies (:func:`sqlite_form` gives its expression) only when
every cell is in a form for which both routes store the very value the
cell-by-cell conversion of :mod:`entrepot.datacenter.values` would; anything
else — an empty cell in a column with a default or a required one, a decimal
that Python would rewrite, a date-time with a zone — sends the chunk down
the general path, which checks and converts every cell and words every
problem.  The two paths are compared by property tests
(``tests/unit/test_dc_rawpath.py``, ``tests/integration/test_dc_postgres_rawpath.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from entrepot.datacenter.schema import ColumnSpec
from entrepot.datacenter.values import BOOLEAN_WORDS

# Up to 18 digits always fits a 64-bit integer, so CAST never saturates.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# Integers SQLite's INTEGER affinity takes from the text as they are.
_PLAIN_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
# Decimals that str(Decimal(text)) gives back unchanged: no sign but '-', no
# leading zeros, no bare point, and no exponent form (which Python uses for
# zero-led values with more than six places).
_DECIMAL = re.compile(r"-?(?:[1-9][0-9]*(?:\.[0-9]+)?|0(?:\.[0-9]{1,6})?)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?")

# Lower-case spellings first: they are the usual ones.
_TRUE_WORDS = sorted(
    (word for word, value in BOOLEAN_WORDS.items() if value), key=lambda w: (w != w.lower(), w)
)
_BOOLEAN_CASES = " ".join(f"WHEN '{word}' THEN 1" for word in _TRUE_WORDS)

#: Rows per INSERT statement, within SQLite's oldest limit of 999 parameters.
MAX_PARAMETERS = 999
ROWS_PER_STATEMENT = 100


def sqlite_form(spec: ColumnSpec, cells: list[str], *, required: bool) -> str | None:
    """The SQL storing the cells as the general path would, or ``None``.

    ``None`` means some cell is invalid or stored otherwise than from its
    text: the chunk takes the general path.  The expression binds the cell
    as ``?``; PostgreSQL's ``COPY`` needs no expression, only the same test.
    """
    if _refuses_empty(spec):
        # The usual case first: when every cell passes, none is empty.
        form = _form(spec, cells, empty=False)
        if form is not None or "" not in cells:
            return form
    elif "" not in cells:
        return _form(spec, cells, empty=False)
    if required or spec.default is not None:
        return None
    present = [text for text in cells if text]
    return _form(spec, present, empty=True) if present else "NULL"


def _refuses_empty(spec: ColumnSpec) -> bool:
    """Whether the cell test of :func:`_form` fails on an empty cell anyway."""
    if spec.type == "text":
        return False
    if spec.type == "choice":
        return "" not in (spec.choices or ())
    if spec.type == "regex":
        return re.compile(spec.pattern or "").fullmatch("") is None
    return True


def _form(spec: ColumnSpec, present: list[str], *, empty: bool) -> str | None:
    """The expression for non-empty ``present`` cells (``empty``: others are empty)."""
    cell = "NULLIF(?, '')" if empty else "?"
    limit = spec.max_length
    if limit is not None and max(map(len, present)) > limit:
        return None
    kind = spec.type
    if kind == "text":
        return cell
    if kind == "choice":
        return cell if set(present) <= frozenset(spec.choices or ()) else None
    if kind == "regex":
        return cell if all(map(re.compile(spec.pattern or "").fullmatch, present)) else None
    if kind == "boolean":
        if not set(present) <= BOOLEAN_WORDS.keys():
            return None
        when_empty = "WHEN '' THEN NULL " if empty else ""
        return f"CASE ? {when_empty}{_BOOLEAN_CASES} ELSE 0 END"
    if kind == "integer":
        if all(map(_PLAIN_INTEGER.fullmatch, present)):
            return cell
        return f"CAST({cell} AS INTEGER)" if all(map(_INTEGER.fullmatch, present)) else None
    if kind == "decimal":
        return cell if all(map(_DECIMAL.fullmatch, present)) else None
    try:
        if kind == "date":
            valid = all(map(_DATE.fullmatch, present)) and all(map(date.fromisoformat, present))
            return cell if valid else None
        if not (
            all(map(_DATETIME.fullmatch, present)) and all(map(datetime.fromisoformat, present))
        ):
            return None
    except ValueError:
        return None
    # Stored with microseconds: add them where a cell has none.
    lengths = set(map(len, present))
    if lengths == {19}:
        return f"{cell} || '.000000'"
    if lengths == {26}:
        return cell
    return f"substr({cell} || '.000000', 1, 26)"


def _columns(rows: Sequence[list[str]], positions: Sequence[int], width: int) -> Any:
    """The cells at ``positions`` of each row, as sequences the drivers accept."""
    if list(positions) == list(range(width)):
        return rows
    if len(positions) == 1:
        only = positions[0]
        return [(row[only],) for row in rows]
    return list(map(itemgetter(*positions), rows))


def insert_raw(
    conn: Connection,
    table: Table,
    columns: Sequence[tuple[int, str]],
    forms: Sequence[str],
    rows: Sequence[list[str]],
    width: int,
) -> None:
    """Insert ``rows``, whose used cells all have a :func:`sqlite_form`, into ``table``.

    ``columns`` pairs each used position of a row with its column name, and
    ``forms`` gives each its expression.
    """
    if not rows:
        return
    positions = [position for position, _ in columns]
    names = [name for _, name in columns]
    cells = _columns(rows, positions, width)
    preparer = conn.dialect.identifier_preparer
    target = preparer.format_table(table)
    column_list = ", ".join(preparer.quote(name) for name in names)
    if conn.dialect.name == "postgresql":
        _copy_csv(conn, target, column_list, cells)
        return
    one = f"({', '.join(forms)})"
    # Columns whose every cell is empty bind nothing.
    bound = [position for position, form in zip(positions, forms, strict=True) if form != "NULL"]
    if len(bound) != len(positions):
        cells = _columns(rows, bound, width) if bound else [()] * len(rows)
    # Many rows per statement: the driver's per-row work shrinks accordingly.
    per = max(1, min(ROWS_PER_STATEMENT, MAX_PARAMETERS // max(1, len(bound))))
    whole = len(cells) - len(cells) % per
    # Quoted identifiers and fixed expressions only; every cell is bound.
    insert = f"INSERT INTO {target} ({column_list}) VALUES "  # noqa: S608
    cursor = _cursor(conn)
    try:
        if whole and bound:
            flat = list(chain.from_iterable(cells[:whole]))
            step = per * len(bound)
            groups = [flat[start : start + step] for start in range(0, len(flat), step)]
            cursor.executemany(insert + ", ".join([one] * per), groups)
        elif whole:
            cursor.executemany(insert + ", ".join([one] * per), [()] * (whole // per))
        if whole < len(cells):
            cursor.executemany(insert + one, cells[whole:])
    except conn.dialect.dbapi.Error as exc:  # type: ignore[union-attr]
        raise _translated(conn, insert, exc) from exc
    finally:
        cursor.close()


def _cursor(conn: Connection) -> Any:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _translated(conn: Connection, statement: str, exc: Exception) -> sa_exc.StatementError:
    """The error SQLAlchemy would raise (callers retry on its IntegrityError)."""
    base = conn.dialect.dbapi.Error  # type: ignore[union-attr]
    return sa_exc.DBAPIError.instance(statement, None, exc, base)


def _copy_csv(conn: Connection, target: str, column_list: str, cells: Any) -> None:
    lines = list(map("\t".join, cells))
    data = "\n".join(lines) + "\n"
    width = column_list.count(",") + 1
    if (
        "\\" not in data
        and "\r" not in data
        and data.count("\n") == len(lines)
        and data.count("\t") == len(lines) * (width - 1)
    ):
        # No cell holds a tab, line break or backslash: COPY's text format
        # takes the cells as they are, joined at C speed (empty means NULL).
        options = "FORMAT text, NULL ''"
    else:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(cells)
        data = buffer.getvalue()
        # An empty cell is NULL, quoted or not (a lone empty cell is written as "").
        options = f"FORMAT csv, FORCE_NULL ({column_list})"
    statement = f"COPY {target} ({column_list}) FROM STDIN WITH ({options})"
    cursor = _cursor(conn)
    try:
        with cursor.copy(statement) as copy:
            copy.write(data.encode("utf-8"))
    except conn.dialect.dbapi.Error as exc:  # type: ignore[union-attr]
        raise _translated(conn, statement, exc) from exc
    finally:
        cursor.close()
