"""A symbolic link in the data center is never read as an import file: not when the
command names it, not when it is swapped in for the file halfway through an import.
Whoever can write into the root (or a watched folder, see ``test_service_watchfolder``)
cannot make an import read a file of their choosing from elsewhere on the machine."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import UnsafeEntry
from tests.hostile._dc import SCHEMA, entrepot, make_root

SECRET = "student_id,name\nS9,Secret Sam\n"


@pytest.mark.parametrize("name", ["students.csv", "students.csv.gz"])
def test_an_import_of_a_link_is_refused_before_any_job(tmp_path: Path, name: str) -> None:
    root = make_root(tmp_path)
    secret = tmp_path / ("elsewhere" + name.removeprefix("students"))
    secret.write_bytes(gzip.compress(SECRET.encode()) if name.endswith(".gz") else SECRET.encode())
    (root / name).symlink_to(secret)
    ran = entrepot(tmp_path, "dc", "import", name, "--root", root, "-t", "students")
    assert ran.code == 6, ran.text
    assert f"data center file '{root / name}' is a symbolic link: refused" in ran.err
    assert "backlog" not in ran.text and not (tmp_path / "state").exists()
    assert (root / name).is_symlink() and list((root / "finished").iterdir()) == []


def test_a_file_swapped_for_a_link_halfway_through_an_import_is_not_read(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "elsewhere.csv"
    secret.write_text(SECRET)
    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    try:
        source = center.root / "students.csv"
        source.write_text("student_id,name\nS1,Ann\n")
        importer = center.importer("students.csv", "students")
        importer.prepare()  # the file checked, read and registered
        source.unlink()
        source.symlink_to(secret)
        with pytest.raises(UnsafeEntry, match="is a symbolic link: refused"):
            importer.produce()
        importer.cleanup()
        _, rows = center.export("students")
        assert rows == 0  # no row of the file elsewhere, nor of the one swapped out
    finally:
        center.close()


def test_moving_the_storage_never_turns_a_planted_link_into_a_copy(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere.csv"
    secret.write_text(SECRET)
    center = DataCenter(tmp_path / "dc", create=True)
    (center.root / "finished" / "kept.csv").write_text("student_id\nS1\n")
    (center.root / "finished" / "planted.csv").symlink_to(secret)
    new = tmp_path / "new"
    new.mkdir()
    # A leftover (or planted link) at the copy's temporary name is replaced, not written through.
    (new / "finished").mkdir()
    (new / "finished" / ".kept.csv.copying").symlink_to(tmp_path / "victim")
    (tmp_path / "victim").write_text("untouched")
    not_copied = center.move_storage(new, take_files=True, remove_old=True)
    assert not_copied == ["finished/planted.csv"]
    assert (new / "finished" / "kept.csv").read_text() == "student_id\nS1\n"
    assert not os.path.lexists(new / "finished" / "planted.csv")
    assert (tmp_path / "victim").read_text() == "untouched"
    # Not everything arrived: the old folder stays, the link in it untouched.
    assert (tmp_path / "dc" / "finished" / "planted.csv").is_symlink()
