"""Table schemas: which columns a table has, their types, and its key.

Schemas are written in TOML and checked completely when read, so a mistake
in the file is reported with its place before any row is touched::

    [tables.students]
    key = ["student_id"]

    [tables.students.columns]
    student_id = { type = "regex", pattern = "^S[0-9]{4}$", required = true }
    name = { type = "text", required = true, max_length = 200 }
    born = { type = "date" }
    fee = { type = "decimal", default = "0" }
    status = { type = "choice", choices = ["active", "graduated"], default = "active" }
    course = { type = "text", references = "courses.code" }

Column types: ``text``, ``integer``, ``decimal``, ``boolean``, ``date``,
``datetime``, ``choice`` (one of ``choices``) and ``regex`` (text matching
``pattern`` completely).  Key columns are always required; they identify the
row that ``update`` and ``remove`` act on.  ``references = "table.column"``
asks that the value exists in that column of another table.

The checks are plain code rather than a validation library's models: every
``entrepot dc import`` reads a schema, and such a library costs a command
more to import than the checks take.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from entrepot.errors import SchemaError

ColumnType = Literal["text", "integer", "decimal", "boolean", "date", "datetime", "choice", "regex"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)

# Matched whole (fullmatch): "$" would let a trailing line feed through.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: Column names the importer keeps for itself.
RESERVED = frozenset({"del_date"})
#: Table names of the data center's own tables (and SQLite's) begin so, in any case.
RESERVED_TABLE_PREFIXES = ("dc_", "entrepot_", "sqlite_")


class _Invalid(ValueError):
    """One problem of a schema, at ``place`` (dotted field names, "" for the whole)."""

    def __init__(self, place: str, message: str) -> None:
        super().__init__(f"{place}: {message}" if place else message)
        self.place = place
        self.message = message

    def within(self, outer: str) -> _Invalid:
        """The same problem seen from the field ``outer`` that holds this one."""
        return _Invalid(f"{outer}.{self.place}" if self.place else outer, self.message)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table; :meth:`from_toml` checks a column read from a file."""

    type: ColumnType = "text"
    required: bool = False
    default: str | int | float | bool | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    references: str | None = None

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise _Invalid("type", f"must be one of {', '.join(COLUMN_TYPES)}, not {self.type!r}")
        if self.max_length is not None and self.max_length < 1:
            raise _Invalid("max_length", "must be greater than 0")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise _Invalid("pattern", f"invalid regular expression: {exc}") from exc
        if self.references is not None:
            parts = self.references.split(".")
            if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
                raise _Invalid("references", "references must look like 'table.column'")
        if self.type == "choice" and not self.choices:
            raise _Invalid("", "a choice column needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices is not None:
            raise _Invalid("", "'choices' only applies to type 'choice'")
        if self.type == "regex" and not self.pattern:
            raise _Invalid("", "a regex column needs a 'pattern'")
        if self.type != "regex" and self.pattern is not None:
            raise _Invalid("", "'pattern' only applies to type 'regex'")
        self._check_default()

    def _check_default(self) -> None:
        """The default must be a value of the column, as a cell holding it would be."""
        text = self.default_text
        if text is None:
            return
        # Imported here: the converters are built on this module's ColumnSpec.
        from entrepot.datacenter.values import ColumnConverter

        _, errors = ColumnConverter("default", self).convert([text], required=False)
        if errors:
            raise _Invalid("default", errors[0])

    @classmethod
    def from_toml(cls, data: object) -> ColumnSpec:
        """The column described by a TOML table, its values checked for their types."""
        given = _fields(data, _COLUMN_FIELDS)
        values: dict[str, Any] = {}
        for name, value in given.items():
            if name in ("type", "pattern", "references"):
                values[name] = _typed(name, value, str, "text")
            elif name == "required":
                values[name] = _typed(name, value, bool, "true or false")
            elif name == "max_length":
                values[name] = _typed(name, value, int, "a whole number")
            elif name == "default":
                if not isinstance(value, str | int | float | bool):
                    raise _Invalid(name, "must be text, a number or true/false")
                values[name] = value
            else:
                values[name] = tuple(_text_list(name, value))
        return cls(**values)

    @property
    def default_text(self) -> str | None:
        """The default as CSV text, converted like any cell."""
        if self.default is None:
            return None
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


_COLUMN_FIELDS = tuple(spec.name for spec in fields(ColumnSpec))


@dataclass(frozen=True)
class TableSpec:
    """A table: its columns in order and the columns that identify a row."""

    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnSpec] = field(hash=False)

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise _Invalid("name", f"table name {self.name!r} must be a plain identifier")
        if self.name.lower().startswith(RESERVED_TABLE_PREFIXES):
            raise _Invalid(
                "",
                f"table name {self.name!r} is reserved: names beginning with"
                f" {', '.join(RESERVED_TABLE_PREFIXES)} are the data center's and the database's",
            )
        if not self.columns:
            raise _Invalid("", "a table needs at least one column")
        seen: dict[str, str] = {}
        for column in self.columns:
            if not _IDENTIFIER.fullmatch(column):
                raise _Invalid("", f"column name {column!r} must be a plain identifier")
            if column in RESERVED:
                raise _Invalid("", f"column name {column!r} is reserved for backups")
            # SQLite takes names without regard to case: one column for both.
            twin = seen.setdefault(column.lower(), column)
            if twin != column:
                raise _Invalid(
                    "", f"column names {twin!r} and {column!r} must differ in more than case"
                )
        if not self.key:
            raise _Invalid("", "a table needs at least one key column")
        for column in self.key:
            if column not in self.columns:
                raise _Invalid("", f"key column {column!r} is not a column of the table")

    @classmethod
    def from_toml(cls, name: str, data: object) -> TableSpec:
        given = _fields(data, ("key", "columns"))
        key = tuple(_text_list("key", given.get("key", ())))
        found = given.get("columns", {})
        if not isinstance(found, Mapping):
            raise _Invalid("columns", "must be a table of columns")
        columns: dict[str, ColumnSpec] = {}
        for column, spec in found.items():
            try:
                columns[column] = ColumnSpec.from_toml(spec)
            except _Invalid as exc:
                raise exc.within(f"columns.{column}") from None
        return cls(name=name, key=key, columns=columns)

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def is_required(self, column: str) -> bool:
        return column in self.key or self.columns[column].required


@dataclass(frozen=True)
class Schema:
    """Every table the data center imports into."""

    tables: dict[str, TableSpec] = field(hash=False)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for name in self.tables:
            twin = seen.setdefault(name.lower(), name)
            if twin != name:
                raise _Invalid(
                    "", f"table names {twin!r} and {name!r} must differ in more than case"
                )
        for table in self.tables.values():
            for column_name, column in table.columns.items():
                if column.references is None:
                    continue
                other, other_column = column.references.split(".")
                target = self.tables.get(other)
                if target is None or other_column not in target.columns:
                    raise _Invalid(
                        "",
                        f"{table.name}.{column_name} references {column.references}, "
                        "which is not a column of a table in this schema",
                    )

    @classmethod
    def from_toml(cls, data: object) -> Schema:
        tables = _fields(data, ("tables",)).get("tables", {})
        if not isinstance(tables, Mapping):
            raise _Invalid("tables", "must be a table of tables")
        specs: dict[str, TableSpec] = {}
        problems: list[str] = []
        for name, table in tables.items():
            try:
                specs[name] = TableSpec.from_toml(name, table)
            except _Invalid as exc:
                problems.append(str(exc.within(f"tables.{name}")))
        if problems:
            raise ValueError("; ".join(problems))
        return cls(tables=specs)

    def table(self, name: str) -> TableSpec:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables)) or "none"
            raise SchemaError(f"no table {name!r} in the schema (tables: {known})") from None


def _fields(data: object, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """``data`` as a TOML table of no other fields than ``allowed``."""
    if not isinstance(data, Mapping):
        raise _Invalid("", "must be a table")
    for name in data:
        if name not in allowed:
            raise _Invalid(str(name), f"unknown field (known: {', '.join(allowed)})")
    return data


def _typed(name: str, value: object, kind: type, words: str) -> Any:
    # bool is an int to Python, never to a schema.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Invalid(name, f"must be {words}, not {value!r}")
    return value


def _text_list(name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(name, "must be a list of texts")
    return value


def parse_schema(text: str, *, source: str = "schema") -> Schema:
    """Read a schema from TOML text; raise :class:`SchemaError` saying what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError:  # the parser's own limit: arrays or tables nested hundreds deep
        raise SchemaError(f"{source}: not valid TOML: nested too deeply") from None
    try:
        return Schema.from_toml(data)
    except ValueError as exc:
        raise SchemaError(f"{source}: {exc}") from exc


def load_schema(path: str | Path) -> Schema:
    """Read the schema file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"schema file {str(path)!r} not found") from exc
    return parse_schema(text, source=str(path))
