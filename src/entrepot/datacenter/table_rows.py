"""The database side of an import chunk: look-ups, bulk inserts, updates, deletes.

All functions run inside the caller's transaction.  Look-ups go in batches
so that no statement exceeds the drivers' parameter limits; bulk inserts
skip SQLAlchemy's per-row work (values are prepared column by column with
the column types' own bind processors) and use ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from operator import methodcaller
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import ColumnElement

from entrepot.datacenter.database import DecimalText
from entrepot.datacenter.values import decimal_text
from entrepot.db import LIST_VALUES, groups

#: A row's key: the values of its key columns, in the table's key order.
Key = tuple[Any, ...]

#: Keys per look-up statement (fewer on SQLite: see :func:`_lookup_size`).
LOOKUP_BATCH = 2000


def _lookup_size(conn: Connection, width: int) -> int:
    """Keys of ``width`` values each per look-up: :data:`LOOKUP_BATCH`, fewer on SQLite,
    whose oldest builds bind at most :data:`~entrepot.db.MAX_VALUES` values a statement."""
    if conn.dialect.name == "sqlite":
        return max(1, LIST_VALUES // width)
    return LOOKUP_BATCH


def _key_match(table: Table, key_names: Sequence[str], keys: Sequence[Key]) -> ColumnElement[bool]:
    if len(key_names) == 1:
        return table.c[key_names[0]].in_([key[0] for key in keys])
    return tuple_(*(table.c[name] for name in key_names)).in_(list(keys))


def existing_keys(
    conn: Connection, table: Table, key_names: Sequence[str], keys: Sequence[Key]
) -> set[Key]:
    """Which of ``keys`` already have a row in ``table``."""
    found: set[Key] = set()
    columns = [table.c[name] for name in key_names]
    if len(key_names) == 1 and keys and orders_like_python(conn, keys[0][0]):
        # Loads usually bring keys in ranges of their own: count the stored
        # keys inside this chunk's range first, and when there are few,
        # fetch them with one index range scan instead of many IN lists.
        column = columns[0]
        values = [key[0] for key in keys]
        low, high = min(values), max(values)
        in_range = column.between(low, high)
        count = conn.execute(select(func.count()).select_from(table).where(in_range)).scalar_one()
        if count == 0:
            return found
        if count <= 2 * len(keys):
            wanted = set(values)
            for (value,) in conn.execute(select(column).where(in_range)):
                if value in wanted:
                    found.add((value,))
            return found
    for batch in groups(keys, _lookup_size(conn, len(key_names))):
        query = select(*columns).where(_key_match(table, key_names, batch))
        found.update(tuple(row) for row in conn.execute(query))
    return found


def range_is_free(conn: Connection, table: Table, key_name: str, values: Sequence[Any]) -> bool:
    """Whether no stored key lies between the least and greatest of ``values``.

    Only for values the database orders as Python does; ``False`` otherwise
    (the caller then looks the keys up one by one).
    """
    if not values or not orders_like_python(conn, values[0]):
        return False
    column = table.c[key_name]
    low, high = min(values), max(values)
    query = select(literal(1)).select_from(table).where(column.between(low, high)).limit(1)
    return conn.execute(query).first() is None


def orders_like_python(conn: Connection, sample: Any) -> bool:
    """Whether the database sorts such values as Python does (so a range is exact).

    Not so for text under a locale collation (PostgreSQL) or for decimals
    stored as text (SQLite).
    """
    if isinstance(sample, bool):
        return False
    if isinstance(sample, int | date):
        return True
    return isinstance(sample, str) and conn.dialect.name == "sqlite"


def existing_values(conn: Connection, table: Table, column: str, values: Iterable[Any]) -> set[Any]:
    """Which of ``values`` occur in ``table.column`` (for references)."""
    wanted = list(set(values))
    found: set[Any] = set()
    for batch in groups(wanted, _lookup_size(conn, 1)):
        query = select(table.c[column]).where(table.c[column].in_(batch)).distinct()
        found.update(conn.execute(query).scalars())
    return found


def fetch_rows(
    conn: Connection, table: Table, key_names: Sequence[str], keys: Sequence[Key]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in groups(keys, _lookup_size(conn, len(key_names))):
        query = select(table).where(_key_match(table, key_names, batch))
        rows.extend(dict(row._mapping) for row in conn.execute(query))
    return rows


def bulk_insert(
    conn: Connection, table: Table, names: Sequence[str], columns: Sequence[list[Any]]
) -> None:
    """Insert rows given column-wise: ``columns[i]`` holds every value of ``names[i]``."""
    if not columns or not columns[0]:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql":
        _copy_rows(conn, table, names, columns)
        return
    # The compiled INSERT lists columns in table order, whatever order the
    # keys are given in: arrange the values the same way.
    given = dict(zip(names, columns, strict=True))
    names = [column.name for column in table.columns if column.name in given]
    columns = [given[name] for name in names]
    prepared = []
    for name, values in zip(names, columns, strict=True):
        impl = table.c[name].type.dialect_impl(dialect)
        fast = _sqlite_text(impl)
        if fast is not None and None not in values:
            prepared.append(list(map(fast, values)))
            continue
        processor = impl.bind_processor(dialect)
        prepared.append(list(map(processor, values)) if processor else values)
    statement = insert(table).compile(dialect=dialect, column_keys=list(names))
    conn.exec_driver_sql(str(statement), list(zip(*prepared, strict=True)))


# The text SQLAlchemy's SQLite types store, made by C-level methods instead of
# per-value Python formatting (same output for the values the importer makes).
def _sqlite_text(impl: Any) -> Callable[[Any], Any] | None:
    if isinstance(impl, DecimalText):
        return decimal_text
    if isinstance(impl, sqltypes.DateTime):
        return methodcaller("isoformat", " ", "microseconds")
    if isinstance(impl, sqltypes.Date):
        return date.isoformat
    if isinstance(impl, sqltypes.Boolean):
        return int
    return None


def table_is_empty(conn: Connection, table: Table) -> bool:
    return conn.execute(select(literal(1)).select_from(table).limit(1)).first() is None


def greatest_key(conn: Connection, table: Table, key_name: str) -> Any:
    """The greatest stored value of the key column ``key_name`` (``None``: no row)."""
    return conn.execute(select(func.max(table.c[key_name]))).scalar()


def _copy_rows(
    conn: Connection, table: Table, names: Sequence[str], columns: Sequence[list[Any]]
) -> None:
    preparer = conn.dialect.identifier_preparer
    target = preparer.format_table(table)
    column_list = ", ".join(preparer.quote(name) for name in names)
    # COPY's text format built a column at a time with C-level calls: much
    # faster than handing psycopg one row at a time.
    texts = [_copy_text(values) for values in columns]
    data = "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"
    statement = f"COPY {target} ({column_list}) FROM STDIN"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            copy.write(data.encode("utf-8"))
    except conn.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
        # Straight from the driver: give callers the error SQLAlchemy would.
        raise sa_exc.IntegrityError(statement, None, exc) from exc
    finally:
        cursor.close()


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_COPY_NULL = "\\N"


def _copy_text(values: list[Any]) -> list[str]:
    """One column as COPY text: ``\\N`` for NULL, special characters escaped."""
    has_null = None in values
    present = list(filter(_is_not_none, values)) if has_null else values
    sample = present[0] if present else None
    texts: list[Any]
    if isinstance(sample, bool):
        texts = ["t" if value else "f" for value in present]
    elif isinstance(sample, date):
        # datetime is a date too; both print as PostgreSQL reads them.
        texts = list(map(_ISO, present))
    elif isinstance(sample, str):
        texts = list(present)
        if _COPY_SPECIAL.search("".join(present)):
            texts = [_COPY_SPECIAL.sub(_escape, value) for value in texts]
    else:
        texts = list(map(str, present))
    if has_null:
        filled = iter(texts)
        texts = [_COPY_NULL if value is None else next(filled) for value in values]
    return texts


_ISO = methodcaller("isoformat")


def _is_not_none(value: Any) -> bool:
    return value is not None


def _escape(match: re.Match[str]) -> str:
    return _COPY_ESCAPES[match.group()]


def update_rows(
    conn: Connection,
    table: Table,
    key_names: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    clear: bool = False,
) -> None:
    """Update each row's given columns, matched on its key.

    A ``None`` value leaves its column as it is, unless ``clear`` is true:
    then it is written as NULL too.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        changed = tuple(
            name
            for name, value in row.items()
            if (clear or value is not None) and name not in key_names
        )
        if changed:
            groups.setdefault(changed, []).append(row)
    where = and_(*(table.c[name] == bindparam(f"k__{name}") for name in key_names))
    for changed, members in groups.items():
        statement = (
            update(table).where(where).values({name: bindparam(f"v__{name}") for name in changed})
        )
        params = [
            {
                **{f"k__{name}": row[name] for name in key_names},
                **{f"v__{name}": row[name] for name in changed},
            }
            for row in members
        ]
        conn.execute(statement, params)


def delete_rows(
    conn: Connection, table: Table, key_names: Sequence[str], keys: Sequence[Key]
) -> None:
    for batch in groups(keys, _lookup_size(conn, len(key_names))):
        conn.execute(delete(table).where(_key_match(table, key_names, batch)))
