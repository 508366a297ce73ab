"""Batch imports of bad input: files and rows refused, each with its reason — on SQLite
here; run again on PostgreSQL and with a second process as ``test_dc_import.py`` is.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ConfigError, ImportBusy, ImportFailed, SchemaError
from tests.unit.dc_imports import *  # noqa: F403 - the shared fixtures
from tests.unit.dc_imports import put, read_csv, rows_of


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
