"""Exports (formula cells neutralised, filters, spools) and retiring rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.formulas import escape as neutralise
from entrepot.errors import ConfigError

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text" }
born = { type = "date" }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
"""

ROWS = (
    "pid,name,born,status\n"
    '1,=HYPERLINK("http://evil"),1990-01-01,active\n'
    "2,+cmd|' /C calc'!A0,2001-05-05,graduated\n"
    "3,-5,2002-01-01,graduated\n"
    "4,@SUM(A1),1980-03-03,active\n"
    "5,Plain Name,,active\n"
)


@pytest.fixture
def db_url() -> str | None:
    """None: SQLite; ``tests/integration/test_dc_postgres_export.py`` gives PostgreSQL."""
    return None


@pytest.fixture
def center(tmp_path: Path, db_url: str | None) -> Iterator[DataCenter]:
    center = DataCenter(tmp_path / "dc", database=db_url, schema=parse_schema(SCHEMA), create=True)
    (center.root / "people.csv").write_text(ROWS)
    assert center.import_file("people.csv", "people").all_ok
    yield center
    center.close()


def read(path: str | Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-5", "-5"),
        ("+1.5e3", "+1.5e3"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_export_neutralises_formula_cells(center: DataCenter) -> None:
    path, count = center.export("people")
    assert count == 5
    assert Path(path).parent == center.root / "exports"
    rows = read(path)
    assert rows[0] == ["pid", "name", "born", "status"]
    names = [row[1] for row in rows[1:]]
    assert names == [
        '\'=HYPERLINK("http://evil")',
        "'+cmd|' /C calc'!A0",
        "-5",
        "'@SUM(A1)",
        "Plain Name",
    ]
    raw_path, _ = center.export("people", safe_cells=False)
    assert read(raw_path)[1][1] == '=HYPERLINK("http://evil")'


def test_export_filters(center: DataCenter) -> None:
    def ids(*where: str) -> list[str]:
        path, _ = center.export("people", where=list(where))
        return [row[0] for row in read(path)[1:]]

    assert ids("status=graduated") == ["2", "3"]
    assert ids("born<2000-01-01") == ["1", "4"]
    assert ids("born=") == ["5"]
    assert ids("pid>=2", "status!=graduated") == ["4", "5"]
    assert ids("name~^Plain") == ["5"]
    # A value is a bound parameter, never SQL.
    assert ids("name=x' OR '1'='1") == []
    for bad in ("nonsense", "nope=1", "born<notadate", "born<", "name~("):
        with pytest.raises(ConfigError):
            center.export("people", where=[bad])


def test_export_into_a_spool(center: DataCenter, tmp_path: Path) -> None:
    from entrepot.spool import Spool

    name, count = center.export("people", where=["status=active"], to_spool=tmp_path / "out")
    assert count == 3
    entries = Spool(tmp_path / "out").list("new")
    assert [entry.name for entry in entries] == [name]
    assert len(read(entries[0].path)) == 4


def test_retire_moves_rows_to_graduated(center: DataCenter) -> None:
    backup, count = center.retire("people", where=["status=graduated"])
    assert count == 2 and backup == center.root / "graduated" / "people.csv"
    rows = read(backup)
    assert rows[0] == ["pid", "name", "born", "status", "del_date"]
    assert [row[0] for row in rows[1:]] == ["2", "3"]
    _path, remaining = center.export("people")
    assert remaining == 3
    assert center.retire("people", where=["status=graduated"]) == (None, 0)
    center.retire("people", where=["pid=1"])
    assert [row[0] for row in read(backup)[1:]] == ["2", "3", "1"]
    with pytest.raises(ConfigError, match="at least one filter"):
        center.retire("people", where=[])


def test_retired_backup_imports_again(center: DataCenter) -> None:
    backup, _ = center.retire("people", where=["status=graduated"])
    assert backup is not None
    # The backup's del_date column is not a table column: skip it on import.
    text = backup.read_text().replace("del_date", "--IGNORE--", 1)
    (center.root / "back.csv").write_text(text)
    assert center.import_file("back.csv", "people").successful == 2
