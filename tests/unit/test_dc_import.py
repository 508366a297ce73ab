"""Batch imports: modes, pending files, bad input — on SQLite here.

``tests/integration/test_dc_postgres.py`` runs these same tests against a
real PostgreSQL by overriding the ``db_url`` fixture.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ConfigError, ImportBusy, ImportFailed, SchemaError

SCHEMA = """
[tables.courses]
key = ["code"]
[tables.courses.columns]
code = { type = "text" }
title = { type = "text", required = true }

[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "regex", pattern = "^S[0-9]{4}$" }
name = { type = "text", required = true }
born = { type = "date" }
fee = { type = "decimal", default = "0" }
active = { type = "boolean", default = true }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
level = { type = "integer" }
seen = { type = "datetime" }
course = { type = "text", references = "courses.code" }
notes = { type = "text" }

[tables.prices]
key = ["amount"]
[tables.prices.columns]
amount = { type = "decimal" }
label = { type = "text" }

[tables.marks]
key = ["student_id", "course"]
[tables.marks.columns]
student_id = { type = "text" }
course = { type = "text" }
mark = { type = "integer", required = true }
"""


@pytest.fixture
def db_url() -> str | None:
    """None: the default SQLite file in the data center's state folder."""
    return None


@pytest.fixture
def center(tmp_path: Path, db_url: str | None) -> Any:
    center = DataCenter(tmp_path / "dc", database=db_url, schema=parse_schema(SCHEMA), create=True)
    yield center
    center.close()


def put(center: DataCenter, name: str, text: str | bytes) -> str:
    """Place a file in the root directly (bypassing upload checks)."""
    path = center.root / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return name


def rows_of(center: DataCenter, table: str) -> list[dict[str, Any]]:
    db = center.database
    sql_table = db.table(center.schema.table(table))
    with db.engine.connect() as conn:
        key = [sql_table.c[name] for name in center.schema.table(table).key]
        return [dict(row._mapping) for row in conn.execute(select(sql_table).order_by(*key))]


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def add_courses(center: DataCenter) -> None:
    put(center, "courses.csv", "code,title\nMATH,Maths\nPHYS,Physics\n")
    assert center.import_file("courses.csv", "courses").all_ok


# -- modes -----------------------------------------------------------------------


def test_create_imports_typed_rows(center: DataCenter) -> None:
    add_courses(center)
    put(
        center,
        "s.csv",
        "student_id,name,born,fee,active,level,seen,course\n"
        "S0001,Ann,2001-02-03,12.50,yes,3,2024-05-06 07:08:09,MATH\n"
        "S0002,Bob,,,,,,\n",
    )
    result = center.import_file("s.csv", "students", "create", user="alice")
    assert (result.processed, result.successful, result.failed) == (2, 2, 0)
    rows = rows_of(center, "students")
    assert rows[0]["born"].isoformat() == "2001-02-03"
    assert rows[0]["fee"] == Decimal("12.50")
    assert rows[0]["active"] is True and rows[0]["level"] == 3
    assert rows[0]["seen"].isoformat() == "2024-05-06T07:08:09"
    # Defaults fill empty cells and absent columns.
    assert rows[1]["fee"] == Decimal("0") and rows[1]["active"] is True
    assert rows[1]["status"] == "active" and rows[1]["born"] is None
    root = center.root
    assert {"s.create.finished.csv", "s.csv"} <= {p.name for p in (root / "finished").iterdir()}
    assert not (root / "s.csv").exists()
    assert read_csv(root / "finished" / "s.create.finished.csv")[1][0] == "S0001"
    line = center.log.search("s.csv")[-1]
    assert "mode=create" in line and "successful=2" in line and "failed=0" in line
    assert "user=alice" in line and "duration=" in line


def test_create_existing_row_fails(center: DataCenter) -> None:
    put(center, "a.csv", "student_id,name\nS0001,Ann\n")
    center.import_file("a.csv", "students")
    put(center, "b.csv", "student_id,name\nS0001,Other\nS0002,Bob\n")
    result = center.import_file("b.csv", "students")
    assert (result.successful, result.failed) == (1, 1)
    pending = read_csv(center.root / "b.create.pending.csv")
    assert pending == [
        ["student_id", "name", "--ERRORS--"],
        ["S0001", "Other", "student_id: already exists: 'S0001'"],
    ]
    assert rows_of(center, "students")[0]["name"] == "Ann"
    assert (center.root / "unfinished" / "b.csv").exists()


def test_update_changes_only_given_columns(center: DataCenter) -> None:
    put(center, "a.csv", "student_id,name,level,notes\nS0001,Ann,1,keep\nS0002,Bob,2,x\n")
    center.import_file("a.csv", "students")
    put(center, "u.csv", "student_id,level,notes\nS0001,5,\nS0009,1,\nS0002,,changed\n")
    result = center.import_file("u.csv", "students", "update")
    assert (result.successful, result.failed) == (2, 1)
    rows = rows_of(center, "students")
    assert (rows[0]["name"], rows[0]["level"], rows[0]["notes"]) == ("Ann", 5, "keep")
    assert (rows[1]["level"], rows[1]["notes"]) == (2, "changed")
    pending = read_csv(center.root / "u.update.pending.csv")
    assert pending[1] == ["S0009", "1", "", "student_id: no such entry: 'S0009'"]
    assert (center.root / "finished" / "u.update.finished.csv").exists()


def test_an_update_clears_empty_cells_when_asked(center: DataCenter) -> None:
    """Issue 10, item 24b: ``empty="clear"`` empties a value, ``"keep"`` (the default) keeps it."""
    put(
        center,
        "a.csv",
        "student_id,name,born,fee,status,notes\n"
        "S0001,Ann,2001-02-03,9.5,graduated,a note\nS0002,Bob,2002-03-04,7,graduated,another\n",
    )
    center.import_file("a.csv", "students")
    blank = "student_id,born,fee,status,notes\nS0001,,,,\n"
    put(center, "keep.csv", blank)
    assert center.import_file("keep.csv", "students", "update").all_ok
    kept = rows_of(center, "students")[0]
    assert (kept["born"], kept["fee"], kept["status"], kept["notes"]) == (
        date(2001, 2, 3),
        Decimal("9.5"),
        "graduated",
        "a note",
    )

    put(center, "clear.csv", blank)
    assert center.import_file("clear.csv", "students", "update", empty="clear").all_ok
    cleared, other = rows_of(center, "students")
    # As a create would store an empty cell: the default, else nothing.
    assert (cleared["born"], cleared["fee"], cleared["status"], cleared["notes"]) == (
        None,
        Decimal("0"),
        "active",
        None,
    )
    assert (other["born"], other["notes"]) == (date(2002, 3, 4), "another")

    # A required column without default cannot be cleared: the row fails.
    put(center, "name.csv", "student_id,name\nS0002,\n")
    result = center.import_file("name.csv", "students", "update", empty="clear")
    assert (result.successful, result.failed) == (0, 1)
    assert rows_of(center, "students")[1]["name"] == "Bob"
    assert "name: missing, but required" in (center.root / "name.update.pending.csv").read_text()


def test_remove_backs_up_rows_first(center: DataCenter) -> None:
    put(center, "a.csv", "student_id,name,fee\nS0001,Ann,1.5\nS0002,Bob,2\n")
    center.import_file("a.csv", "students")
    put(center, "r.csv", "student_id,name\nS0001,ignored\nS0404,\n")
    result = center.import_file("r.csv", "students", "remove")
    assert (result.successful, result.failed) == (1, 1)
    assert [row["student_id"] for row in rows_of(center, "students")] == ["S0002"]
    backup = read_csv(center.root / "deleted" / "students.csv")
    assert backup[0][-1] == "del_date" and backup[0][:2] == ["student_id", "name"]
    assert backup[1][:2] == ["S0001", "Ann"]
    assert backup[1][backup[0].index("fee")] == "1.5"
    assert backup[1][-1].endswith("+00:00")
    pending = read_csv(center.root / "r.remove.pending.csv")
    assert pending[1][-1] == "student_id: no such entry: 'S0404'"


def test_composite_keys(center: DataCenter) -> None:
    put(center, "m.csv", "student_id,course,mark\nS1,MATH,10\nS1,PHYS,12\nS1,MATH,11\n")
    result = center.import_file("m.csv", "marks")
    assert (result.successful, result.failed) == (2, 1)
    put(center, "mu.csv", "student_id,course,mark\nS1,PHYS,20\nS2,PHYS,1\n")
    result = center.import_file("mu.csv", "marks", "update")
    assert (result.successful, result.failed) == (1, 1)
    assert [row["mark"] for row in rows_of(center, "marks")] == [10, 20]


def test_references_must_exist(center: DataCenter) -> None:
    add_courses(center)
    put(center, "s.csv", "student_id,name,course\nS0001,Ann,MATH\nS0002,Bob,BIO\n")
    result = center.import_file("s.csv", "students")
    assert (result.successful, result.failed) == (1, 1)
    pending = read_csv(center.root / "s.create.pending.csv")
    assert pending[1][-1] == "course: no courses.code 'BIO'"


# -- the pending round trip ------------------------------------------------------------


def test_pending_round_trip_converges(center: DataCenter) -> None:
    put(
        center,
        "s.csv",
        "student_id,name,born,level,--IGNORE--\n"
        "S0001,Ann,2001-01-01,1,a\n"
        "S0002,,notadate,x,b\n"
        "bad,Cid,,,c\n",
    )
    first = center.import_file("s.csv", "students")
    assert (first.successful, first.failed) == (1, 2)
    pending_path = center.root / "s.create.pending.csv"
    pending = read_csv(pending_path)
    assert pending[0] == ["student_id", "name", "born", "level", "--IGNORE--", "--ERRORS--"]
    assert pending[1][:5] == ["S0002", "", "notadate", "x", "b"]
    assert pending[1][5] == (
        "name: missing, but required; born: not a date (YYYY-MM-DD): 'notadate'; "
        "level: not an integer: 'x'"
    )
    assert pending[2][5] == "student_id: does not match ^S[0-9]{4}$: 'bad'"

    # Fix one row only: the other stays pending.
    fixed = pending_path.read_text().replace(",,notadate,x,", ",Bob,2002-02-02,2,")
    pending_path.write_text(fixed)
    second = center.import_file("s.create.pending.csv", "students")
    assert (second.successful, second.failed) == (1, 1)
    assert read_csv(pending_path)[1][0] == "bad"
    assert (center.root / "unfinished" / "s.csv").exists()

    pending_path.write_text(pending_path.read_text().replace("bad,", "S0003,"))
    third = center.import_file("s.create.pending.csv", "students")
    assert third.all_ok
    root = center.root
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "deleted",
        "finished",
        "graduated",
        "logs",
        "unfinished",
    ]
    assert sorted(p.name for p in (root / "finished").iterdir()) == [
        "s.create.finished.csv",
        "s.csv",
    ]
    assert list((root / "unfinished").iterdir()) == []
    finished = read_csv(root / "finished" / "s.create.finished.csv")
    assert finished[0] == ["student_id", "name", "born", "level", "--IGNORE--"]
    assert [row[0] for row in finished[1:]] == ["S0001", "S0002", "S0003"]
    assert [row["student_id"] for row in rows_of(center, "students")] == [
        "S0001",
        "S0002",
        "S0003",
    ]
    # The uploaded original is untouched.
    assert (root / "finished" / "s.csv").read_text().count("\n") == 4


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("student_id,nam\nS0001,Ann\n", "unknown columns in the header: nam"),
        ("name\nAnn\n", "key columns missing from the header: student_id"),
        ("student_id\nS0001\n", "required columns missing from the header: name"),
        ("student_id,name,name\nS0001,a,b\n", "columns given twice"),
        ("", "the file is empty"),
    ],
    ids=["wrong-header", "missing-key", "missing-required", "repeated-column", "empty"],
)
def test_files_that_cannot_be_imported(center: DataCenter, content: str, message: str) -> None:
    put(center, "x.csv", content)
    with pytest.raises(ImportFailed, match=message):
        center.import_file("x.csv", "students")
    # Nothing moved, nothing imported: the file waits to be replaced.
    assert (center.root / "x.csv").read_text() == content
    assert not (center.root / "unfinished" / "x.csv").exists()
    assert rows_of(center, "students") == []


def test_header_only_file_finishes_with_no_rows(center: DataCenter) -> None:
    put(center, "h.csv", "student_id,name\n")
    result = center.import_file("h.csv", "students")
    assert (result.processed, result.failed) == (0, 0)
    assert (center.root / "finished" / "h.csv").exists()
    assert read_csv(center.root / "finished" / "h.create.finished.csv") == [["student_id", "name"]]


def test_duplicate_keys_within_one_file(center: DataCenter) -> None:
    put(center, "d.csv", "student_id,name\nS0001,Ann\nS0002,Bob\nS0001,Again\n")
    result = center.import_file("d.csv", "students", chunk_size=2)
    assert (result.successful, result.failed) == (2, 1)
    pending = read_csv(center.root / "d.create.pending.csv")
    assert pending[1] == [
        "S0001",
        "Again",
        "student_id: key given twice in this file, first on row 2",
    ]


def test_wrong_types_report_every_field(center: DataCenter) -> None:
    put(
        center,
        "t.csv",
        "student_id,name,fee,active,status,level,seen\nS0001,Ann,1.2.3,maybe,gone,1.5,yesterday\n",
    )
    result = center.import_file("t.csv", "students")
    assert result.failed == 1
    errors = read_csv(center.root / "t.create.pending.csv")[1][-1].split("; ")
    assert [error.split(":")[0] for error in errors] == [
        "fee",
        "active",
        "status",
        "level",
        "seen",
    ]


def test_rows_with_wrong_cell_count(center: DataCenter) -> None:
    put(center, "w.csv", "student_id,name\nS0001,Ann,extra\nS0002\nS0003,Cid\n")
    result = center.import_file("w.csv", "students")
    assert (result.successful, result.failed) == (1, 2)
    pending = read_csv(center.root / "w.create.pending.csv")
    assert pending[1] == ["S0001", "Ann", "extra", "row: has 3 cells, the header has 2"]
    assert pending[2] == ["S0002", "row: has 1 cells, the header has 2"]


def test_bom_is_not_part_of_the_first_column(center: DataCenter) -> None:
    put(center, "b.csv", "\ufeffstudent_id,name\nS0001,Ann\n".encode())
    assert center.import_file("b.csv", "students").all_ok
    assert read_csv(center.root / "finished" / "b.create.finished.csv")[0][0] == "student_id"


def test_latin1_file_needs_its_encoding(center: DataCenter) -> None:
    data = "student_id,name\nS0001,Zoë Müller\n".encode("latin-1")
    put(center, "l.csv", data)
    with pytest.raises(ImportFailed, match="not valid utf-8-sig"):
        center.import_file("l.csv", "students")
    result = center.import_file("l.csv", "students", encoding="latin-1")
    assert result.all_ok
    assert rows_of(center, "students")[0]["name"] == "Zoë Müller"
    # The source keeps its bytes; the finished rows are written in UTF-8.
    assert (center.root / "finished" / "l.csv").read_bytes() == data
    assert "Zoë" in (center.root / "finished" / "l.create.finished.csv").read_text("utf-8")


def test_one_megabyte_field(center: DataCenter) -> None:
    big = "x" * (1024 * 1024)
    put(center, "big.csv", f"student_id,name,notes\nS0001,Ann,{big}\n")
    assert center.import_file("big.csv", "students").all_ok
    assert len(rows_of(center, "students")[0]["notes"]) == 1024 * 1024


def test_embedded_newlines_and_quotes_survive(center: DataCenter) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student_id", "name", "notes"])
    writer.writerow(["S0001", 'Ann "the first"', "line one\nline two, with comma\t\\N \\ end"])
    writer.writerow(["S0002", "", 'bad "row"\r\nspans lines'])
    put(center, "n.csv", buffer.getvalue())
    result = center.import_file("n.csv", "students")
    assert (result.successful, result.failed) == (1, 1)
    row = rows_of(center, "students")[0]
    assert row["name"] == 'Ann "the first"'
    assert row["notes"] == "line one\nline two, with comma\t\\N \\ end"
    pending = read_csv(center.root / "n.create.pending.csv")
    assert pending[1][:3] == ["S0002", "", 'bad "row"\r\nspans lines']


def test_pending_file_with_cleared_errors_cell_still_reads(center: DataCenter) -> None:
    put(center, "p.csv", "student_id,name\nS0001,\n")
    center.import_file("p.csv", "students")
    pending = center.root / "p.create.pending.csv"
    # A spreadsheet drops the emptied last cell.
    pending.write_text("student_id,name,--ERRORS--\r\nS0001,Ann\r\n")
    assert center.import_file("p.create.pending.csv", "students").all_ok
    assert rows_of(center, "students")[0]["name"] == "Ann"


def test_unknown_table_and_mode(center: DataCenter) -> None:
    put(center, "x.csv", "a\n1\n")
    with pytest.raises(SchemaError, match="no table 'nope'"):
        center.import_file("x.csv", "nope")
    with pytest.raises(ConfigError, match="unknown import mode"):
        center.import_file("x.csv", "students", "upsert")


def test_missing_file(center: DataCenter) -> None:
    with pytest.raises(FileNotFoundError):
        center.import_file("ghost.csv", "students")


def test_many_chunks_every_row_in_one_place(center: DataCenter) -> None:
    lines = ["student_id,name,level"]
    for number in range(1, 1001):
        level = "x" if number % 7 == 0 else str(number)
        lines.append(f"S{number:04d},N{number},{level}")
    put(center, "many.csv", "\n".join(lines) + "\n")
    result = center.import_file("many.csv", "students", chunk_size=64)
    bad = sum(1 for number in range(1, 1001) if number % 7 == 0)
    assert (result.successful, result.failed) == (1000 - bad, bad)
    finished = read_csv(center.root / "finished" / "many.create.finished.csv")[1:]
    pending = read_csv(center.root / "many.create.pending.csv")[1:]
    ids = sorted([row[0] for row in finished] + [row[0] for row in pending])
    assert ids == [f"S{number:04d}" for number in range(1, 1001)]
    assert len(rows_of(center, "students")) == 1000 - bad


def test_bad_bytes_late_in_the_file_stop_it_before_any_row(center: DataCenter) -> None:
    lines = ["student_id,name"] + [f"S{n:04d},N{n}" for n in range(1, 200)]
    data = ("\n".join(lines) + "\n").encode() + b"S0999,Bad \xff byte\n"
    put(center, "late.csv", data)
    with pytest.raises(ImportFailed, match="not valid utf-8-sig"):
        center.import_file("late.csv", "students", chunk_size=10)
    assert rows_of(center, "students") == []
    # Nothing was started, so another attempt with the right encoding runs.
    assert center.import_file("late.csv", "students", encoding="latin-1").successful == 200


def test_existing_keys_found_whatever_their_sort_order(center: DataCenter) -> None:
    # Decimals are stored as text on SQLite ("10" sorts before "9"), and
    # text keys sort by locale on PostgreSQL: look-ups must still find them.
    put(center, "p1.csv", "amount,label\n9,nine\n10,ten\n")
    assert center.import_file("p1.csv", "prices").all_ok
    put(center, "p2.csv", "amount,label\n9.5,new\n10,again\n9,again\n")
    result = center.import_file("p2.csv", "prices")
    assert (result.successful, result.failed) == (1, 2)
    put(center, "s1.csv", "student_id,name\nS0001,a\nS0100,b\n")
    center.import_file("s1.csv", "students")
    put(center, "s2.csv", "student_id,name\nS0001,x\nS0050,y\nS0100,z\n")
    result = center.import_file("s2.csv", "students")
    assert (result.successful, result.failed) == (1, 2)


def test_the_same_file_is_not_imported_twice_at_once(center: DataCenter) -> None:
    put(center, "c.csv", "student_id,name\nS0001,Ann\n")
    running = center.importer("c.csv", "students")
    running.prepare()
    with pytest.raises(ImportBusy, match="being imported by another process"):
        center.import_file("c.csv", "students")
    running.produce()
    assert running.send().successful == 1
    running.cleanup()
    assert center.import_file("c.csv", "students").successful == 1


def test_empty_boolean_cells_leave_the_other_rows_values_alone(
    tmp_path: Path, db_url: str | None
) -> None:
    schema = parse_schema(
        '[tables.flags]\nkey = ["id"]\n[tables.flags.columns]\n'
        'id = { type = "text" }\non = { type = "boolean" }\nnote = { type = "text" }\n'
    )
    center = DataCenter(tmp_path / "flags", database=db_url, schema=schema, create=True)
    try:
        # ' yes' (spaced) takes the general path, which once shifted the values
        # after an empty cell on PostgreSQL.
        put(center, "f.csv", "id,on,note\na,,x\nb,true,x\nc,no,\nd, yes,x\n")
        assert center.import_file("f.csv", "flags").all_ok
        stored = {row["id"]: row["on"] for row in rows_of(center, "flags")}
        assert stored == {"a": None, "b": True, "c": False, "d": True}
    finally:
        center.close()


def test_a_chunk_looks_up_more_keys_than_one_statement_binds(center: DataCenter) -> None:
    # 1,200 rows in one chunk: their keys (two columns each) and their references are
    # more values than SQLite's oldest builds bind in one statement (999; the tests'
    # connections are held to it). Every mode still finds every row.
    count = 1200
    courses = "".join(f"C{n:04d},Course {n}\n" for n in range(count))
    put(center, "c.csv", "code,title\n" + courses)
    assert center.import_file("c.csv", "courses").all_ok
    students = "".join(f"S{n:04d},Student {n},C{n:04d}\n" for n in range(count))
    put(center, "s.csv", "student_id,name,course\n" + students)
    assert center.import_file("s.csv", "students").successful == count
    marks = "".join(f"S{n:04d},C{n:04d},{n % 20}\n" for n in range(count))
    put(center, "m.csv", "student_id,course,mark\n" + marks)
    assert center.import_file("m.csv", "marks").successful == count
    again = center.import_file(put(center, "m2.csv", "student_id,course,mark\n" + marks), "marks")
    assert (again.successful, again.failed) == (0, count)  # each key is there already
    better = "".join(f"S{n:04d},C{n:04d},20\n" for n in range(count))
    put(center, "mu.csv", "student_id,course,mark\n" + better)
    assert center.import_file("mu.csv", "marks", "update").successful == count
    assert {row["mark"] for row in rows_of(center, "marks")} == {20}
    keys = "".join(f"S{n:04d},C{n:04d}\n" for n in range(count))
    put(center, "mr.csv", "student_id,course\n" + keys)
    assert center.import_file("mr.csv", "marks", "remove").successful == count
    assert rows_of(center, "marks") == []
    assert len(read_csv(center.root / "deleted" / "marks.csv")) == count + 1
