"""Table schemas: which columns a table has, their types, and its key.

Schemas are written in TOML and checked by pydantic models, so a mistake in
the file is reported with its place before any row is touched::

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
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from entrepot.errors import SchemaError

ColumnType = Literal["text", "integer", "decimal", "boolean", "date", "datetime", "choice", "regex"]

# Matched whole (fullmatch): "$" would let a trailing line feed through.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: Column names the importer keeps for itself.
RESERVED = frozenset({"del_date"})


class ColumnSpec(BaseModel):
    """One column of a table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ColumnType = "text"
    required: bool = False
    default: str | int | float | bool | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = Field(default=None, gt=0)
    references: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value

    @field_validator("references")
    @classmethod
    def _table_dot_column(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split(".")
            if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
                raise ValueError("references must look like 'table.column'")
        return value

    @model_validator(mode="after")
    def _type_options(self) -> ColumnSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice column needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices is not None:
            raise ValueError("'choices' only applies to type 'choice'")
        if self.type == "regex" and not self.pattern:
            raise ValueError("a regex column needs a 'pattern'")
        if self.type != "regex" and self.pattern is not None:
            raise ValueError("'pattern' only applies to type 'regex'")
        return self

    @property
    def default_text(self) -> str | None:
        """The default as CSV text, converted like any cell."""
        if self.default is None:
            return None
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


class TableSpec(BaseModel):
    """A table: its columns in order and the columns that identify a row."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnSpec]

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"table name {value!r} must be a plain identifier")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TableSpec:
        if not self.columns:
            raise ValueError("a table needs at least one column")
        for column in self.columns:
            if not _IDENTIFIER.fullmatch(column):
                raise ValueError(f"column name {column!r} must be a plain identifier")
            if column in RESERVED:
                raise ValueError(f"column name {column!r} is reserved for backups")
        if not self.key:
            raise ValueError("a table needs at least one key column")
        for column in self.key:
            if column not in self.columns:
                raise ValueError(f"key column {column!r} is not a column of the table")
        return self

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def is_required(self, column: str) -> bool:
        return column in self.key or self.columns[column].required


class Schema(BaseModel):
    """Every table the data center imports into."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tables: dict[str, TableSpec]

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("tables"), dict):
            tables = {}
            for name, table in data["tables"].items():
                tables[name] = {"name": name, **table} if isinstance(table, dict) else table
            return {**data, "tables": tables}
        return data

    @model_validator(mode="after")
    def _references_exist(self) -> Schema:
        for table in self.tables.values():
            for column_name, column in table.columns.items():
                if column.references is None:
                    continue
                other, other_column = column.references.split(".")
                target = self.tables.get(other)
                if target is None or other_column not in target.columns:
                    raise ValueError(
                        f"{table.name}.{column_name} references {column.references}, "
                        "which is not a column of a table in this schema"
                    )
        return self

    def table(self, name: str) -> TableSpec:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables)) or "none"
            raise SchemaError(f"no table {name!r} in the schema (tables: {known})") from None


def parse_schema(text: str, *, source: str = "schema") -> Schema:
    """Read a schema from TOML text; raise :class:`SchemaError` saying what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return Schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'schema'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SchemaError(f"{source}: {problems}") from exc


def load_schema(path: str | Path) -> Schema:
    """Read the schema file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"schema file {str(path)!r} not found") from exc
    return parse_schema(text, source=str(path))
