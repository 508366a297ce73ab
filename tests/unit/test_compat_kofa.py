"""The Kofa data center scenario, step by step, through ``entrepot.compat.kofa``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from entrepot.compat.kofa import DataCenter, DataCenterFile

SUBFOLDERS = ["deleted", "finished", "graduated", "logs", "unfinished"]


@pytest.fixture
def center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataCenter:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return DataCenter()


def test_new_center_has_storage_and_backup_folders(center: DataCenter, tmp_path: Path) -> None:
    assert center.storage.startswith(str(tmp_path / "tmp"))
    assert os.path.isdir(center.deleted_path)
    assert os.path.isdir(center.graduated_path)
    assert sorted(os.listdir(center.storage)) == SUBFOLDERS


def test_storage_path_and_moving_files(center: DataCenter) -> None:
    os.mkdir("newlocation")
    newpath = os.path.abspath("newlocation")
    assert center.setStoragePath(newpath) == []
    assert center.storage == newpath
    Path(newpath, "myfile.txt").write_bytes(b"hello")
    verynewpath = os.path.abspath("verynewlocation")
    os.mkdir(verynewpath)
    assert center.setStoragePath(verynewpath, move=True) == []
    assert "myfile.txt" in os.listdir(verynewpath)
    # Like Kofa, the old location keeps its copy.
    assert "myfile.txt" in os.listdir(newpath)
    with pytest.raises(ValueError, match="does not exist"):
        center.setStoragePath(os.path.abspath("nowhere"))


def test_move_reports_files_not_copied(center: DataCenter) -> None:
    old = Path(center.storage)
    (old / "a.csv").write_text("x\n")
    target = Path("target").absolute()
    target.mkdir()
    (target / "a.csv").write_text("other\n")
    assert center.setStoragePath(target, move=True) == ["a.csv"]
    assert (target / "a.csv").read_text() == "other\n"
    assert center.setStoragePath(old) == []
    assert center.setStoragePath(target, move=True, overwrite=True) == []
    assert (target / "a.csv").read_text() == "x\n"


def test_pending_files_with_size_and_date(center: DataCenter) -> None:
    assert center.getPendingFiles() == []
    Path(center.storage, "data.csv").write_bytes(b"Some Content\n")
    Path(center.storage, "notes.txt").write_bytes(b"not listed")
    files = center.getPendingFiles()
    assert len(files) == 1 and isinstance(files[0], DataCenterFile)
    assert files[0].getSize() == "13 bytes"
    assert files[0].getDate().startswith(str(__import__("datetime").date.today().year))


def test_pending_files_sorted_by_date_newest_first(center: DataCenter) -> None:
    for index, name in enumerate(["b.csv", "a.csv", "c.csv"]):
        path = Path(center.storage, name)
        path.write_text("x")
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    assert [f.getName() for f in center.getPendingFiles()] == ["a.csv", "b.csv", "c.csv"]
    assert [f.getName() for f in center.getPendingFiles(sort="date")] == ["c.csv", "a.csv", "b.csv"]


def test_log_files(center: DataCenter) -> None:
    logs = Path(center.storage, "logs")
    (logs / "datacenter.log").write_text("line\n")
    (logs / "datacenter.log.1").write_text("old\n")
    assert [f.getName() for f in center.getLogFiles()] == ["datacenter.log"]
    names = [f.getName() for f in center.getLogFiles(exclude_backups=False)]
    assert names == ["datacenter.log", "datacenter.log.1"]


class Scenario:
    """The seed's helpers: recreate the storage, fake a processor's result files."""

    def __init__(self, center: DataCenter) -> None:
        self.center = center
        self.root = center.storage
        self.fin_dir = os.path.join(self.root, "finished")
        self.unfin_dir = os.path.join(self.root, "unfinished")

    def recreate(self) -> None:
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.mkdir(self.root)
        self.center.setStoragePath(self.center.storage)

    def fake_results(
        self, source_basename: str, create_pending: bool = True
    ) -> tuple[str, str, str, str | None]:
        tmp_dir = tempfile.mkdtemp()
        src = os.path.join(self.root, source_basename)
        pending_src = os.path.join(tmp_dir, "mypendingsource.csv") if create_pending else None
        finished_src = os.path.join(tmp_dir, "myfinishedsource.csv")
        for path in (src, pending_src, finished_src):
            if path is not None:
                Path(path).write_bytes(b"blah")
        return tmp_dir, src, finished_src, pending_src

    def dist(self, successful: bool, source: str, create_pending: bool) -> str:
        tmp_dir, src, finished, pending = self.fake_results(source, create_pending)
        self.center.distProcessedFiles(successful, src, finished, pending, mode="create")
        return tmp_dir

    def listing(self) -> tuple[list[str], list[str], list[str]]:
        return (
            sorted(os.listdir(self.root)),
            sorted(os.listdir(self.fin_dir)),
            sorted(os.listdir(self.unfin_dir)),
        )


ALL_DONE = (SUBFOLDERS, ["mysource.create.finished.csv", "mysource.csv"], [])
WAITING = (
    ["deleted", "finished", "graduated", "logs", "mysource.create.pending.csv", "unfinished"],
    ["mysource.create.finished.csv"],
    ["mysource.csv"],
)


def test_seed_distribution_scenario(center: DataCenter) -> None:
    scenario = Scenario(center)
    scenario.recreate()
    tmp_dir = scenario.dist(True, "mysource.csv", create_pending=False)
    assert scenario.listing() == ALL_DONE
    assert not os.path.exists(tmp_dir)

    scenario.recreate()
    scenario.dist(False, "mysource.csv", create_pending=True)
    assert scenario.listing() == WAITING
    scenario.dist(True, "mysource.create.pending.csv", create_pending=False)
    assert scenario.listing() == ALL_DONE

    scenario.recreate()
    scenario.dist(False, "mysource.csv", create_pending=True)
    scenario.dist(False, "mysource.create.pending.csv", create_pending=True)
    scenario.dist(False, "mysource.create.pending.csv", create_pending=True)
    assert scenario.listing() == WAITING
    scenario.dist(True, "mysource.create.pending.csv", create_pending=False)
    assert scenario.listing() == ALL_DONE

    finished = center.getFinishedFiles()
    assert len(finished) == 1
    assert finished[0].getName() == "mysource.create.finished.csv"
    assert finished[0].getSize() == "2 bytes"
    assert finished[0].getDate()


def test_finished_rows_are_appended_with_union_of_columns(center: DataCenter) -> None:
    scenario = Scenario(center)
    root = Path(center.storage)
    for number, content in enumerate(["a,b\r\n1,2\r\n", "b,c\r\n3,4\r\n"]):
        tmp = Path(tempfile.mkdtemp())
        (tmp / "fin.csv").write_text(content)
        (tmp / "pend.csv").write_text("a,--ERRORS--\r\nx,bad\r\n")
        source = "src.csv" if number == 0 else "src.create.pending.csv"
        (root / source).write_text("whatever")
        center.distProcessedFiles(number == 1, str(root / source), str(tmp / "fin.csv"), None)
    assert (root / "finished" / "src.create.finished.csv").read_text() == ("a,b,c\n1,2,\n,3,4\n")
    assert scenario.listing()[2] == []
