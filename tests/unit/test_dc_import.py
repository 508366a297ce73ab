"""Batch imports: modes and pending files — on SQLite here (bad input:
``test_dc_import_input.py``).

``tests/integration/test_dc_postgres.py`` runs these same tests against a
real PostgreSQL by overriding the ``db_url`` fixture, and
``test_dc_import_parallel.py`` with the chunks checked in a second process.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from entrepot.datacenter import DataCenter
from tests.unit.dc_imports import *  # noqa: F403 - the shared fixtures
from tests.unit.dc_imports import add_courses, put, read_csv, rows_of

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
