"""Result files belong to one source: ``x.csv`` and ``x.csv.gz`` never share them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.storage import move_file
from entrepot.errors import ImportFailed, UploadRejected

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text", required = true }
"""


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)


def test_an_upload_beside_its_other_form_is_refused(center: DataCenter, tmp_path: Path) -> None:
    plain = tmp_path / "x.csv"
    plain.write_text("pid,name\n1,A\n")
    packed = tmp_path / "x.csv.gz"
    packed.write_bytes(gzip.compress(b"pid,name\n2,B\n"))
    center.upload(plain, user="al")

    with pytest.raises(UploadRejected, match="would share its pending and finished rows"):
        center.upload(packed, user="al")
    center.import_file("x_al.csv", "people")
    with pytest.raises(UploadRejected, match=r"'x_al.csv' \(in finished/\)"):
        center.upload(packed, user="al")
    assert sorted(path.name for path in center.root.glob("x_al*")) == []


def test_an_import_never_takes_the_place_of_rows_left_pending(center: DataCenter) -> None:
    (center.root / "x.csv").write_text("pid,name\n1,A\n2,\n")
    (center.root / "x.csv.gz").write_bytes(gzip.compress(b"pid,name\n3,C\n4,\n"))
    assert center.import_file("x.csv", "people").failed == 1
    pending = (center.root / "x.create.pending.csv").read_text()

    with pytest.raises(ImportFailed, match=r"x\.create\.pending\.csv holds the rows"):
        center.import_file("x.csv.gz", "people")
    assert (center.root / "x.create.pending.csv").read_text() == pending

    (center.root / "x.create.pending.csv").write_text("pid,name,--ERRORS--\n2,Bo,\n")
    assert center.import_file("x.create.pending.csv", "people").all_ok
    assert sorted(path.name for path in (center.root / "finished").iterdir()) == [
        "x.create.finished.csv",
        "x.csv",
    ]
    assert center.import_file("x.csv.gz", "people").failed == 1
    assert (center.root / "x.create.pending.csv").read_text().startswith("pid,name,--ERRORS--\n4,")


def test_an_import_waits_while_its_other_form_is_unfinished(center: DataCenter) -> None:
    (center.root / "x.csv.gz").write_bytes(gzip.compress(b"pid,name\n3,C\n4,\n"))
    assert center.import_file("x.csv.gz", "people").failed == 1
    (center.root / "x.create.pending.csv").unlink()
    (center.root / "x.csv").write_text("pid,name\n1,A\n")

    with pytest.raises(ImportFailed, match=r"unfinished/x\.csv\.gz waits"):
        center.import_file("x.csv", "people")


def test_a_result_file_is_never_replaced_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "new").write_text("new rows")
    (tmp_path / "kept").write_text("rows")

    with pytest.raises(FileExistsError):
        move_file(tmp_path / "new", tmp_path / "kept", replace=False)
    assert (tmp_path / "kept").read_text() == "rows" and (tmp_path / "new").exists()
    move_file(tmp_path / "new", tmp_path / "kept")
    assert (tmp_path / "kept").read_text() == "new rows"
