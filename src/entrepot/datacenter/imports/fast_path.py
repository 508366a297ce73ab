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
(``tests/unit/test_dc_fast_path.py``, ``tests/integration/test_dc_postgres_fast_path.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from entrepot.datacenter.imports.arrow_reader import ArrowChunk
from entrepot.datacenter.imports.cells import CellList, Cells
from entrepot.datacenter.table_schema import ColumnSpec
from entrepot.datacenter.values import BOOLEAN_WORDS
from entrepot.db import MAX_VALUES

# Up to 18 digits always fits a 64-bit integer, so CAST never saturates.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# Integers SQLite's INTEGER affinity takes from the text as they are.
_PLAIN_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
# Decimals already in their one stored form (values.decimal_text): no sign
# but '-', none on zero, no leading zeros, no bare point, no trailing zeros.
_DECIMAL = re.compile(r"0|-?(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?")

# Lower-case spellings first: they are the usual ones.
_TRUE_WORDS = sorted(
    (word for word, value in BOOLEAN_WORDS.items() if value), key=lambda w: (w != w.lower(), w)
)
_BOOLEAN_CASES = " ".join(f"WHEN '{word}' THEN 1" for word in _TRUE_WORDS)

#: Rows per INSERT statement at most; fewer when their values would be more than one
#: statement binds (:data:`~entrepot.db.MAX_VALUES`).
ROWS_PER_STATEMENT = 100


def sqlite_form(spec: ColumnSpec, cells: list[str] | Cells, *, required: bool) -> str | None:
    """The SQL storing the cells as the general path would, or ``None``.

    ``None`` means some cell is invalid or stored otherwise than from its
    text: the chunk takes the general path.  The expression binds the cell
    as ``?``; PostgreSQL's ``COPY`` needs no expression, only the same test.
    ``cells`` is a list as the ``csv`` module reads it, or any other
    :class:`~entrepot.datacenter.imports.cells.Cells` (an Arrow column).
    """
    view: Cells = CellList(cells) if isinstance(cells, list) else cells
    if _refuses_empty(spec):
        # The usual case first: when every cell passes, none is empty.
        form = _form(spec, view, empty=False)
        if form is not None or not view.has_empty():
            return form
    elif not view.has_empty():
        return _form(spec, view, empty=False)
    if required or spec.default is not None:
        return None
    present = view.present()
    return _form(spec, present, empty=True) if len(present) else "NULL"


def _refuses_empty(spec: ColumnSpec) -> bool:
    """Whether the cell test of :func:`_form` fails on an empty cell anyway."""
    if spec.type == "text":
        return False
    if spec.type == "choice":
        return "" not in (spec.choices or ())
    if spec.type == "regex":
        return re.compile(spec.pattern or "").fullmatch("") is None
    return True


def _form(spec: ColumnSpec, present: Cells, *, empty: bool) -> str | None:
    """The expression for non-empty ``present`` cells (``empty``: others are empty)."""
    cell = "NULLIF(?, '')" if empty else "?"
    limit = spec.max_length
    if limit is not None and present.longest() > limit:
        return None
    kind = spec.type
    if kind == "text":
        return cell
    if kind == "choice":
        return cell if present.all_in(frozenset(spec.choices or ())) else None
    if kind == "regex":
        return cell if present.all_pass(re.compile(spec.pattern or "").fullmatch) else None
    if kind == "boolean":
        if not present.all_in(BOOLEAN_WORDS.keys()):
            return None
        when_empty = "WHEN '' THEN NULL " if empty else ""
        return f"CASE ? {when_empty}{_BOOLEAN_CASES} ELSE 0 END"
    if kind == "integer":
        if present.all_match_fixed(_PLAIN_INTEGER):
            return cell
        return f"CAST({cell} AS INTEGER)" if present.all_match_fixed(_INTEGER) else None
    if kind == "decimal":
        return cell if present.all_match_fixed(_DECIMAL) else None
    try:
        if kind == "date":
            valid = present.all_match_fixed(_DATE) and present.all_dates()
            return cell if valid else None
        if not (present.all_match_fixed(_DATETIME) and present.all_pass(datetime.fromisoformat)):
            return None
    except ValueError:
        return None
    # Stored with microseconds: add them where a cell has none.
    lengths = present.lengths()
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


@dataclass(frozen=True)
class RawRows:
    """The rows of a chunk as the database takes them (see :func:`raw_rows`).

    For PostgreSQL the data of a ``COPY`` (``csv``: in CSV rather than the
    text format); for SQLite the bound cells, row after row.
    """

    count: int
    copy_data: bytes = b""
    csv: bool = False
    flat: list[str] = field(default_factory=list)


def raw_rows(
    dialect: str,
    columns: Sequence[tuple[int, str]],
    forms: Sequence[str],
    source: Sequence[list[str]] | ArrowChunk,
    width: int,
    good: Sequence[int] | None = None,
) -> RawRows:
    """The rows of ``source`` at ``good`` (all when ``None``) for :func:`insert_prepared`.

    Needs no connection: the importer makes them while the chunk before is
    written.
    """
    count = len(source) if good is None else len(good)
    positions = [position for position, _ in columns]
    if isinstance(source, ArrowChunk):
        if dialect == "postgresql":
            text = source.tab_separated(positions, good)
            if text is not None:
                return RawRows(count, copy_data=text)
            return RawRows(count, copy_data=source.csv_bytes(positions, good), csv=True)
        return RawRows(count, flat=_interleaved(source, positions, forms, good))
    rows = source if good is None else [source[pos] for pos in good]
    if dialect == "postgresql":
        data, csv_format = _copy_text(_columns(rows, positions, width), len(positions))
        return RawRows(count, copy_data=data, csv=csv_format)
    bound = _bound(positions, forms)
    flat = list(chain.from_iterable(_columns(rows, bound, width))) if bound else []
    return RawRows(count, flat=flat)


def insert_raw(
    conn: Connection,
    table: Table,
    columns: Sequence[tuple[int, str]],
    forms: Sequence[str],
    source: Sequence[list[str]] | ArrowChunk,
    width: int,
    good: Sequence[int] | None = None,
) -> None:
    """Insert rows whose used cells all have a :func:`sqlite_form` into ``table``.

    ``columns`` pairs each used position of a row with its column name, and
    ``forms`` gives each its expression.  ``source`` holds the rows, as the
    ``csv`` module reads them or as Arrow columns; ``good`` picks the rows to
    insert by their position (all when ``None``).
    """
    rows = raw_rows(conn.dialect.name, columns, forms, source, width, good)
    insert_prepared(conn, table, columns, forms, rows)


def insert_prepared(
    conn: Connection,
    table: Table,
    columns: Sequence[tuple[int, str]],
    forms: Sequence[str],
    rows: RawRows,
) -> None:
    """:func:`insert_raw` of rows made beforehand by :func:`raw_rows`."""
    if not rows.count:
        return
    preparer = conn.dialect.identifier_preparer
    target = preparer.format_table(table)
    column_list = ", ".join(preparer.quote(name) for _, name in columns)
    if conn.dialect.name != "postgresql":
        _sqlite_insert(conn, target, column_list, forms, rows.flat, rows.count)
    elif rows.csv:
        # An empty cell is NULL, quoted or not, as in the text format.
        options = f"FORMAT csv, FORCE_NULL ({column_list})"
        _copy(conn, target, column_list, rows.copy_data, options)
    else:
        _copy(conn, target, column_list, rows.copy_data, "FORMAT text, NULL ''")


def _bound(positions: Sequence[int], forms: Sequence[str]) -> list[int]:
    """The positions whose cells are bound: a column whose every cell is empty binds none."""
    return [pos for pos, form in zip(positions, forms, strict=True) if form != "NULL"]


def _interleaved(
    source: ArrowChunk, positions: Sequence[int], forms: Sequence[str], good: Sequence[int] | None
) -> list[str]:
    """The bound cells of the chosen rows, row after row, made column by column."""
    bound = _bound(positions, forms)
    count = len(source) if good is None else len(good)
    flat: list[str] = [""] * (count * len(bound))
    for offset, position in enumerate(bound):
        cells = source.cells(position).to_list()
        flat[offset :: len(bound)] = cells if good is None else [cells[pos] for pos in good]
    return flat


def _sqlite_insert(
    conn: Connection,
    target: str,
    column_list: str,
    forms: Sequence[str],
    flat: list[str],
    count: int,
) -> None:
    """Insert ``count`` rows whose bound cells follow each other in ``flat``."""
    one = f"({', '.join(forms)})"
    width = len(flat) // count
    # Many rows per statement: the driver's per-row work shrinks accordingly.
    per = max(1, min(ROWS_PER_STATEMENT, MAX_VALUES // max(1, width)))
    whole = count - count % per
    step = per * width
    # Quoted identifiers and fixed expressions only; every cell is bound.
    insert = f"INSERT INTO {target} ({column_list}) VALUES "  # noqa: S608
    cursor = _cursor(conn)
    try:
        if whole:
            groups: list[Any] = (
                [flat[start : start + step] for start in range(0, whole * width, step)]
                if width
                else [()] * (whole // per)
            )
            cursor.executemany(insert + ", ".join([one] * per), groups)
        if whole < count:
            rest: list[Any] = (
                [flat[start : start + width] for start in range(whole * width, len(flat), width)]
                if width
                else [()] * (count - whole)
            )
            cursor.executemany(insert + one, rest)
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


def _copy_text(cells: Any, width: int) -> tuple[bytes, bool]:
    """COPY data of rows of ``width`` cells; True when it is CSV rather than the text format."""
    lines = list(map("\t".join, cells))
    text = "\n".join(lines) + "\n"
    if (
        "\\" not in text
        and "\r" not in text
        and text.count("\n") == len(lines)
        and text.count("\t") == len(lines) * (width - 1)
    ):
        # No cell holds a tab, line break or backslash: COPY's text format
        # takes the cells as they are, joined at C speed (empty means NULL).
        return text.encode("utf-8"), False
    buffer = io.StringIO()
    # CR LF line ends make the writer quote every cell holding a CR or an
    # LF; with "\n" alone a lone CR would go out bare and end the row.
    csv.writer(buffer, lineterminator="\r\n").writerows(cells)
    return buffer.getvalue().encode("utf-8"), True


def _copy(conn: Connection, target: str, column_list: str, data: bytes, options: str) -> None:
    statement = f"COPY {target} ({column_list}) FROM STDIN WITH ({options})"
    cursor = _cursor(conn)
    try:
        with cursor.copy(statement) as copy:
            copy.write(data)
    except conn.dialect.dbapi.Error as exc:  # type: ignore[union-attr]
        raise _translated(conn, statement, exc) from exc
    finally:
        cursor.close()
