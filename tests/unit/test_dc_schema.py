"""Table schemas in TOML, checked before any row is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.datacenter import load_schema, parse_schema
from entrepot.datacenter.values import ColumnConverter
from entrepot.errors import SchemaError

GOOD = """
[tables.courses]
key = ["code"]
columns = { code = { type = "text" } }

[tables.students]
key = ["sid"]
[tables.students.columns]
sid = { type = "regex", pattern = "^S[0-9]+$" }
status = { type = "choice", choices = ["a", "b"], default = "a" }
course = { type = "text", references = "courses.code" }
"""


def test_good_schema(tmp_path: Path) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(GOOD)
    schema = load_schema(path)
    students = schema.table("students")
    assert students.column_names == ["sid", "status", "course"]
    assert students.key == ("sid",)
    assert students.is_required("sid") and not students.is_required("course")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.t\n", "not valid TOML"),
        ("t = " + "[" * 5000 + "]" * 5000, "not valid TOML: nested too deeply"),
        ('[tables.t]\nkey = ["x"]\ncolumns = { y = {} }\n', "key column 'x' is not a column"),
        ("[tables.t]\nkey = []\ncolumns = { y = {} }\n", "at least one key column"),
        (
            '[tables.t]\nkey = ["y"]\ncolumns = { y = { type = "float" } }\n',
            "tables.t.columns.y.type",
        ),
        ('[tables.t]\nkey = ["y"]\ncolumns = { y = { type = "choice" } }\n', "non-empty 'choices'"),
        (
            '[tables.t]\nkey = ["y"]\ncolumns = { y = { type = "regex", pattern = "(" } }\n',
            "invalid regular",
        ),
        (
            '[tables.t]\nkey = ["y"]\ncolumns = { y = { references = "nowhere.x" } }\n',
            "not a column of a table",
        ),
        ('[tables.t]\nkey = ["y"]\ncolumns = { y = { colour = "red" } }\n', "colour"),
        ('[tables."bad name"]\nkey = ["y"]\ncolumns = { y = {} }\n', "plain identifier"),
        ('[tables.t]\nkey = ["del_date"]\ncolumns = { del_date = {} }\n', "reserved"),
    ],
)
def test_bad_schemas_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_schema(text)


def test_missing_schema_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        load_schema(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("integer", ["1", "-20", "+3"], ["1.5", "1_000", " 1", "٣"]),
        ("decimal", ["1", "1.50", "-.5"], ["1e3", "NaN", "1,5"]),
        ("boolean", ["true", "No", "1", "Y"], ["maybe", "2"]),
        ("date", ["2024-02-29"], ["2023-02-29", "29.02.2024"]),
        ("datetime", ["2024-01-01 10:00:00", "2024-01-01T10:00:00+02:00"], ["10:00"]),
    ],
)
def test_cell_conversion(kind: str, good: list[str], bad: list[str]) -> None:
    spec = (
        parse_schema(
            f'[tables.t]\nkey = ["k"]\ncolumns = {{ k = {{}}, c = {{ type = "{kind}" }} }}\n'
        )
        .table("t")
        .columns["c"]
    )
    converter = ColumnConverter("c", spec)
    values, errors = converter.convert(good, required=True)
    assert errors == {} and None not in values
    mixed = good + bad
    values, errors = converter.convert(mixed, required=True)
    assert sorted(errors) == list(range(len(good), len(mixed)))


def test_aware_datetimes_are_stored_in_utc() -> None:
    spec = (
        parse_schema('[tables.t]\nkey = ["k"]\ncolumns = { k = {}, c = { type = "datetime" } }\n')
        .table("t")
        .columns["c"]
    )
    values, _ = ColumnConverter("c", spec).convert(["2024-01-01T10:00:00+02:00"], required=True)
    assert values[0].isoformat() == "2024-01-01T08:00:00"


def test_text_length_limit() -> None:
    spec = (
        parse_schema('[tables.t]\nkey = ["k"]\ncolumns = { k = {}, c = { max_length = 3 } }\n')
        .table("t")
        .columns["c"]
    )
    _, errors = ColumnConverter("c", spec).convert(["abc", "abcd"], required=False)
    assert errors == {1: "longer than 3 characters (4)"}
