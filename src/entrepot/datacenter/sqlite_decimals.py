"""Decimals on SQLite: stored as text in one form, compared by value.

SQLite has no exact decimal type (its ``NUMERIC`` rounds through floats), so
a decimal column holds the text of its value, in the one form of
:func:`~entrepot.datacenter.values.decimal_text`: ``1``, ``1.0`` and
``+1.00`` are one key.  Two SQL functions, registered on every connection
of the data center's engine, let statements work with such texts by value:

``entrepot_decimal_compare(a, b)``
    -1, 0 or 1 as the numbers ``a`` and ``b`` compare (NULL when either is
    NULL or not a number) — what filters such as ``fee>10`` use, where a
    comparison of the texts would put ``9`` after ``10``;
``entrepot_decimal_text(a)``
    the one form of ``a`` — what brings a column written by an earlier
    release (which kept ``1.0``, ``1.50``, ``-0`` or ``1E-7`` as given) to
    that form, once (:func:`bring_to_form`).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table, func, literal
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from entrepot.datacenter.values import decimal_text
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

COMPARE = "entrepot_decimal_compare"
TEXT = "entrepot_decimal_text"


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _compare(left: Any, right: Any) -> int | None:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def _text(value: Any) -> Any:
    number = _number(value)
    # What is not a number stays as it is.
    return value if number is None else decimal_text(number)


def register(dbapi_connection: Any, _record: Any = None) -> None:
    """Define the two functions on a new ``sqlite3`` connection (a ``connect`` listener)."""
    dbapi_connection.create_function(COMPARE, 2, _compare, deterministic=True)
    dbapi_connection.create_function(TEXT, 1, _text, deterministic=True)


def compared(column: Any, value: Decimal) -> ColumnElement[Any]:
    """``column`` compared with ``value`` by number: -1, 0 or 1 (``… > 0``: greater)."""
    return getattr(func, COMPARE)(column, literal(decimal_text(value)))  # type: ignore[no-any-return]


def bring_to_form(conn: Connection, table: Table, column: str) -> int:
    """Rewrite ``column``'s texts to their one form; return how many rows could not be.

    A key stored twice by an earlier release, as ``1`` and ``1.0``, cannot
    become one without losing a row: the second keeps its text (and is
    counted), and shows in exports and filters as the value it is.
    """
    # Names quoted by the dialect; no value is pasted into the statements.
    preparer = conn.dialect.identifier_preparer
    name, quoted = preparer.format_table(table), preparer.quote(column)
    differs = f"{quoted} IS NOT NULL AND {quoted} <> {TEXT}({quoted})"
    rewrite = f"UPDATE OR IGNORE {name} SET {quoted} = {TEXT}({quoted}) WHERE {differs}"  # noqa: S608
    conn.exec_driver_sql(rewrite)
    count = f"SELECT count(*) FROM {name} WHERE {differs}"  # noqa: S608
    left = int(conn.exec_driver_sql(count).scalar_one())
    if left:
        log_event(
            logger,
            "datacenter.decimal_keys_twice",
            logging.WARNING,
            table=table.name,
            column=column,
            rows=left,
        )
    return left
