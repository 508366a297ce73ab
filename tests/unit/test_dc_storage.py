"""The storage tree, listings, moving the storage, and the data center log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, human_size
from entrepot.datacenter.listing import FileInfo
from entrepot.errors import ConfigError, DataCenterError


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (13, "13 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.00 kb"),
        (1536, "1.50 kb"),
        (2 * 1024**2, "2.00 MB"),
        (3 * 1024**3 + 1024**3 // 4, "3.25 GB"),
    ],
)
def test_human_sizes(size: int, text: str) -> None:
    assert human_size(size) == text


def test_init_creates_the_tree(tmp_path: Path) -> None:
    with pytest.raises(DataCenterError, match="does not exist"):
        DataCenter(tmp_path / "missing")
    center = DataCenter(tmp_path / "dc", create=True)
    assert sorted(os.listdir(center.root)) == [
        "deleted",
        "finished",
        "graduated",
        "logs",
        "unfinished",
    ]


def test_listings_by_area_name_and_date(tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "dc", create=True)
    for index, name in enumerate(["b.csv", "a.csv.gz", "c.csv"]):
        path = center.root / name
        path.write_bytes(b"x" * 1536)
        os.utime(path, (2_000_000 + index, 2_000_000 + index))
    (center.root / "readme.txt").write_text("not a CSV")
    (center.root / ".upload-1.tmp").write_text("in progress")
    (center.root / "finished" / "old.csv").write_text("x")
    assert [i.name for i in center.files("pending")] == ["a.csv.gz", "b.csv", "c.csv"]
    assert [i.name for i in center.files("pending", sort="date")] == ["c.csv", "a.csv.gz", "b.csv"]
    assert center.files("pending")[0].human_size == "1.50 kb"
    assert [i.name for i in center.files("finished")] == ["old.csv"]
    assert center.files("graduated") == []
    with pytest.raises(ValueError, match="unknown area"):
        center.files("nowhere")  # type: ignore[arg-type]


def test_local_date_format(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("x")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    date = FileInfo.of(path).local_date
    assert len(date) == 19 and date[4] == "-" and date[13] == ":"


def test_move_storage_takes_files_and_keeps_old_until_complete(tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "old", create=True)
    (center.root / "a.csv").write_text("a")
    (center.root / "finished" / "b.csv").write_text("b")
    new = tmp_path / "new"
    new.mkdir()
    (new / "a.csv").write_text("already here")
    assert center.move_storage(new, take_files=True, remove_old=True) == ["a.csv"]
    # Not everything arrived: the old root stays.
    assert (tmp_path / "old" / "a.csv").exists()
    assert (new / "finished" / "b.csv").read_text() == "b"
    assert center.root == new

    other = tmp_path / "other"
    other.mkdir()
    assert center.move_storage(other, take_files=True, remove_old=True) == []
    assert not new.exists()
    assert (other / "a.csv").read_text() == "already here"
    with pytest.raises(DataCenterError, match="does not exist"):
        center.move_storage(tmp_path / "nowhere")


def test_log_lines_and_search(tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "dc", create=True)
    log = center.log
    log.write("import", file="a.csv", mode="create", user="alice smith")
    log.write("import", file="b.csv", mode="update", user="bob")
    (center.root / "logs" / "datacenter.log.1").write_text(
        "2020-01-01T00:00:00Z import file=old.csv\n"
    )
    assert len(log.search()) == 3
    assert log.search()[0].endswith("file=old.csv")
    assert [line.split()[2] for line in log.search(r"mode=(create|update)")] == [
        "file=a.csv",
        "file=b.csv",
    ]
    assert 'user="alice smith"' in log.search("alice")[0]
    assert log.search("b.csv", limit=1)[0].endswith("user=bob")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        log.search("(")
    assert [i.name for i in center.files("logs")] == ["datacenter.log"]


def test_move_storage_refuses_nested_folders(tmp_path: Path) -> None:
    center = DataCenter(tmp_path / "dc", create=True)
    (center.root / "inner").mkdir()
    with pytest.raises(DataCenterError, match="inside the other"):
        center.move_storage(center.root / "inner", take_files=True)
    with pytest.raises(DataCenterError, match="inside the other"):
        center.move_storage(tmp_path, take_files=True)
    assert center.move_storage(center.root) == []
