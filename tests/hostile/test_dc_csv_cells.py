"""Smaller CSV gaps of the data center (issue 10, item 24).

* a quote left open swallows the rest of the file into one cell: that row
  is reported as a failed row, by both readers;
* an identifier with a trailing line feed passes no name check;
* cells a spreadsheet would run — full-width ``＝ ＋ ＠ －``, NUL or blanks
  first — get the apostrophe in exports, and so do formula cells in the
  pending, finished and backup files, while re-importing converges.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ImportFailed, SchemaError
from tests.hostile._dc import SCHEMA

RUN_CMD = "=cmd|' /C calc'!A0"


@pytest.fixture
def center(tmp_path: Path) -> Any:
    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    yield center
    center.close()


def rows_of(center: DataCenter) -> dict[str, tuple[Any, ...]]:
    table = center.database.table(center.schema.table("students"))
    with center.database.engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(select(table))}


def cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_a_quote_never_closed_fails_its_row_instead_of_swallowing_the_file(
    center: DataCenter, reader: str
) -> None:
    (center.root / "s.csv").write_text(
        'student_id,name\nS1,Ann\nS2,"Bo\nS3,Cid\nS4,Di\n', encoding="utf-8"
    )

    result = center.import_file("s.csv", "students", reader=reader)

    assert (result.processed, result.successful, result.failed) == (2, 1, 1)
    assert set(rows_of(center)) == {"S1"}
    (header, pending) = cells(center.root / "s.create.pending.csv")
    assert header == ["student_id", "name", "--ERRORS--"]
    assert pending[:2] == ["S2", "Bo\nS3,Cid\nS4,Di\n"]
    assert pending[2].startswith("row: a quote opened in this row is never closed")


def test_a_quote_never_closed_in_the_header_refuses_the_file(center: DataCenter) -> None:
    (center.root / "s.csv").write_text('student_id,"name\nS1,Ann\n', encoding="utf-8")
    with pytest.raises(ImportFailed, match="quote opened in the header line is never closed"):
        center.import_file("s.csv", "students")


@pytest.mark.parametrize(
    "toml",
    [
        '[tables."t\\n"]\nkey = ["id"]\ncolumns = { id = {} }\n',
        '[tables.t]\nkey = ["id\\n"]\ncolumns = { "id\\n" = {} }\n',
        '[tables.t]\nkey = ["id"]\ncolumns = { id = {}, r = { references = "t.id\\n" } }\n',
    ],
)
def test_an_identifier_with_a_trailing_line_feed_is_refused(toml: str) -> None:
    with pytest.raises(SchemaError, match=r"identifier|table\.column"):
        parse_schema(toml)


@pytest.mark.parametrize(
    "value",
    [
        "\uff1d1+1",
        "\uff0bcmd",
        "\uff20SUM(A1)",
        "\uff0d2+3",
        "\x00=1+1",
        " =1+1",
        "\u3000+1",
        "\t-1",
    ],
)
def test_exports_neutralise_full_width_nul_and_blank_led_formulas(
    center: DataCenter, value: str
) -> None:
    text = io.StringIO()
    csv.writer(text).writerow(["S1", value])
    (center.root / "s.csv").write_text("student_id,name\n" + text.getvalue(), encoding="utf-8")
    assert center.import_file("s.csv", "students").all_ok
    assert rows_of(center)["S1"][0] == value

    path, _ = center.export("students")

    assert cells(Path(path))[1][1] == "'" + value


def test_row_files_and_backups_neutralise_formulas_and_reimports_converge(
    center: DataCenter,
) -> None:
    root = center.root
    source = io.StringIO()
    writer = csv.writer(source)
    writer.writerows(
        [
            ["student_id", "name", "status"],
            ["S1", RUN_CMD, "active"],
            ["S2", '=HYPERLINK("http://x")', "nope"],
            ["S3", "'=already marked", "active"],
            ["S4", "-5", "active"],
        ]
    )
    (root / "s.csv").write_text(source.getvalue(), encoding="utf-8")

    result = center.import_file("s.csv", "students")

    assert (result.successful, result.failed) == (3, 1)
    # Stored as given; the apostrophe of an already marked cell is the mark.
    assert rows_of(center) == {
        "S1": (RUN_CMD, "active"),
        "S3": ("=already marked", "active"),
        "S4": ("-5", "active"),
    }
    finished = cells(root / "finished" / "s.create.finished.csv")
    assert [row[1] for row in finished[1:]] == ["'" + RUN_CMD, "'=already marked", "-5"]
    pending = cells(root / "s.create.pending.csv")
    assert pending[1][:3] == ["S2", '\'=HYPERLINK("http://x")', "nope"]

    # Fixed in a spreadsheet, which keeps the apostrophe or drops it: both converge.
    fixed = io.StringIO()
    csv.writer(fixed).writerows([pending[0], ["S2", pending[1][1], "active", ""]])
    (root / "s.create.pending.csv").write_text(fixed.getvalue(), encoding="utf-8")
    assert center.import_file("s.create.pending.csv", "students").all_ok
    assert rows_of(center)["S2"] == ('=HYPERLINK("http://x")', "active")

    backup, count = center.retire("students", where=["student_id=S1"])
    assert count == 1 and backup is not None
    assert cells(backup)[1][:2] == ["S1", "'" + RUN_CMD]

    # An export imported elsewhere stores what was stored here.
    path, _ = center.export("students")
    other = DataCenter(root.parent / "other", schema=center.schema, create=True)
    try:
        (other.root / "again.csv").write_bytes(Path(path).read_bytes())
        assert other.import_file("again.csv", "students").all_ok
        assert rows_of(other) == rows_of(center)
    finally:
        other.close()


def test_a_choice_a_spreadsheet_would_run_is_marked_too(tmp_path: Path) -> None:
    schema = parse_schema(
        '[tables.marks]\nkey = ["id"]\n[tables.marks.columns]\n'
        'id = { type = "text" }\nmark = { type = "choice", choices = ["+", "-", "ok"] }\n'
    )
    center = DataCenter(tmp_path / "dc", schema=schema, create=True)
    try:
        (center.root / "m.csv").write_text("id,mark\nA,+\nB,ok\nC,'-\n", encoding="utf-8")
        assert center.import_file("m.csv", "marks").all_ok
        finished = cells(center.root / "finished" / "m.create.finished.csv")
        assert [row[1] for row in finished[1:]] == ["'+", "ok", "'-"]
        path, _ = center.export("marks")
        assert [row[1] for row in cells(Path(path))[1:]] == ["'+", "ok", "'-"]
    finally:
        center.close()


def test_the_import_log_shows_control_characters_escaped(center: DataCenter) -> None:
    (center.root / "s.csv").write_text("student_id,name\nS1,Ann\n", encoding="utf-8")
    center.import_file("s.csv", "students", user="ev\x1b[2Jil\nimport file=forged")
    (line,) = center.log.search("file=s.csv")
    assert "\x1b" not in line and "\n" not in line
    assert 'user="ev\\\\x1b[2Jil\\\\nimport file=forged"' in line
    assert len(center.log.search()) == 1
