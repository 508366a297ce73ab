"""Row filters given on the command line: ``--where "status=graduated"``.

A filter is ``column OP value`` with OP one of ``= != < <= > >=``, or
``column~regex``.  Several filters all have to match.  The value is
converted with the column's type (so ``born<2000-01-01`` compares dates)
and always sent as a bound parameter: a filter is never pasted into SQL.
Decimals compare by number on SQLite too, where they are stored as text
(see :mod:`.sqlite_decimals`).  Regular expressions are applied in Python,
after the other conditions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, true
from sqlalchemy.sql.elements import ColumnElement

from entrepot.datacenter import sqlite_decimals
from entrepot.datacenter.table_schema import TableSpec
from entrepot.datacenter.values import ColumnConverter
from entrepot.errors import ConfigError

_CLAUSE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|=|<|>|~)\s*(.*?)\s*", re.DOTALL)


@dataclass(frozen=True)
class RowFilter:
    """A SQL condition plus the regular-expression tests done in Python."""

    condition: ColumnElement[bool]
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def matches(self, row: Mapping[str, Any]) -> bool:
        return all(
            row[name] is not None and pattern.search(str(row[name]))
            for name, pattern in self.patterns
        )


def parse_filters(
    table: Table, spec: TableSpec, clauses: Sequence[str], *, sqlite: bool = False
) -> RowFilter:
    """Turn ``["status=graduated", "born<2000-01-01"]`` into a :class:`RowFilter`.

    ``sqlite``: the table is in SQLite, whose decimals are texts.
    """
    conditions: list[ColumnElement[bool]] = []
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for clause in clauses:
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise ConfigError(
                f"cannot read the filter {clause!r}: write column=value (or !=, <, <=, >, >=, ~)"
            )
        name, operator, text = match.groups()
        if name not in spec.columns:
            raise ConfigError(f"filter {clause!r}: no column {name!r} in table {spec.name}")
        if operator == "~":
            try:
                patterns.append((name, re.compile(text)))
            except re.error as exc:
                raise ConfigError(f"filter {clause!r}: invalid regular expression: {exc}") from exc
            continue
        column = table.c[name]
        if text == "":
            value: Any = None
        else:
            values, errors = ColumnConverter(name, spec.columns[name]).convert(
                [text], required=False
            )
            if errors:
                raise ConfigError(f"filter {clause!r}: {errors[0]}")
            value = values[0]
        compare = _compare(operator, clause)
        if sqlite and value is not None and spec.columns[name].type == "decimal":
            conditions.append(compare(sqlite_decimals.compared(column, value), 0))
        else:
            conditions.append(compare(column, value))
    condition = and_(*conditions) if conditions else true()
    return RowFilter(condition=condition, patterns=tuple(patterns))


def _compare(operator: str, clause: str) -> Callable[[Any, Any], ColumnElement[bool]]:
    def equal(column: Any, value: Any) -> ColumnElement[bool]:
        return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]

    def unequal(column: Any, value: Any) -> ColumnElement[bool]:
        return column.is_not(None) if value is None else column != value  # type: ignore[no-any-return]

    def ordered(
        test: Callable[[Any, Any], ColumnElement[bool]],
    ) -> Callable[[Any, Any], ColumnElement[bool]]:
        def compare(column: Any, value: Any) -> ColumnElement[bool]:
            if value is None:
                raise ConfigError(
                    f"filter {clause!r}: an empty value can only be compared with = or !="
                )
            return test(column, value)

        return compare

    table: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "=": equal,
        "!=": unequal,
        "<": ordered(lambda c, v: c < v),
        "<=": ordered(lambda c, v: c <= v),
        ">": ordered(lambda c, v: c > v),
        ">=": ordered(lambda c, v: c >= v),
    }
    return table[operator]
