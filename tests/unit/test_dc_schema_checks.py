"""Schema mistakes told when the schema is read: defaults, names that collide, reserved names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import SchemaError


def one_column(column: str) -> str:
    return f'[tables.t]\nkey = ["id"]\ncolumns = {{ id = {{}}, n = {column} }}\n'


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ('{ type = "integer", default = "abc" }', "not an integer: 'abc'"),
        ('{ type = "integer", default = 1.5 }', "not an integer: '1.5'"),
        ('{ type = "choice", choices = ["a"], default = "b" }', "not one of a: 'b'"),
        ('{ type = "decimal", default = "nan" }', "not a decimal number: 'nan'"),
        ('{ type = "decimal", default = inf }', "not a decimal number: 'inf'"),
        ('{ type = "date", default = "2020-02-30" }', "not a date"),
        ('{ type = "boolean", default = "maybe" }', "not a boolean"),
        ('{ type = "regex", pattern = "[0-9]+", default = "x" }', "does not match"),
        ('{ max_length = 2, default = "abc" }', "longer than 2 characters"),
    ],
)
def test_a_default_that_is_no_value_of_its_column_is_a_schema_error(
    column: str, message: str
) -> None:
    with pytest.raises(SchemaError, match=r"tables\.t\.columns\.n\.default: ") as caught:
        parse_schema(one_column(column))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "column",
    [
        '{ type = "integer", default = 7 }',
        '{ type = "decimal", default = "1.50" }',
        '{ type = "decimal", default = 2.5 }',
        '{ type = "boolean", default = true }',
        '{ type = "date", default = "2020-02-29" }',
        '{ type = "datetime", default = "2020-02-29 10:00:00" }',
        '{ type = "choice", choices = ["a", "b"], default = "b" }',
    ],
)
def test_defaults_of_their_columns_type_are_taken(column: str) -> None:
    assert parse_schema(one_column(column)).table("t").columns["n"].default is not None


def test_table_names_must_differ_in_more_than_case() -> None:
    text = '[tables.People]\nkey = ["id"]\ncolumns = { id = {} }\n' + (
        '[tables.people]\nkey = ["id"]\ncolumns = { id = {}, email = {} }\n'
    )
    with pytest.raises(SchemaError, match="'People' and 'people' must differ in more than case"):
        parse_schema(text)


def test_column_names_must_differ_in_more_than_case() -> None:
    with pytest.raises(SchemaError, match="'Name' and 'name' must differ in more than case"):
        parse_schema('[tables.dup]\nkey = ["id"]\ncolumns = { id = {}, Name = {}, name = {} }\n')


@pytest.mark.parametrize(
    "name", ["dc_imports", "dc_committed_chunks", "DC_IMPORTS", "entrepot_schema", "sqlite_stat1"]
)
def test_the_data_centers_own_table_names_are_reserved(name: str) -> None:
    with pytest.raises(SchemaError, match=rf"tables\.{name}: table name '{name}' is reserved"):
        parse_schema(f'[tables.{name}]\nkey = ["id"]\ncolumns = {{ id = {{}} }}\n')


def test_the_command_line_tells_a_schema_mistake_with_exit_3(tmp_path: Path, cli: Any) -> None:
    root = tmp_path / "dc"
    DataCenter(root, create=True).close()
    (root / "schema.toml").write_text(one_column('{ type = "integer", default = "abc" }'))
    (root / "t.csv").write_text("id,n\n1,\n")

    code, out, err = cli("dc", "import", "t.csv", "-t", "t", "--root", root, "--no-ledger")

    assert code == 3, out + err
    assert "tables.t.columns.n.default" in err
    assert (root / "t.csv").exists()
