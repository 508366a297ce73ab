"""Kofa's ``distProcessedFiles`` with result files in odd places: which folder goes, which stays."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from entrepot.compat.kofa import DataCenter


@pytest.fixture
def center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataCenter:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return DataCenter(tmp_path / "dc")


def _source(center: DataCenter, name: str = "src.csv") -> Path:
    source = Path(center.storage, name)
    source.write_bytes(b"h\n1\n")
    return source


@pytest.mark.parametrize("given", ["rel.finished.csv", "./rel.finished.csv"])
def test_result_files_in_the_current_folder_leave_that_folder_in_place(
    center: DataCenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "precious.txt").write_text("keep me")
    monkeypatch.chdir(work)
    Path("rel.finished.csv").write_bytes(b"h\n1\n")
    center.distProcessedFiles(True, _source(center), given, None)
    assert (work / "precious.txt").read_text() == "keep me"
    finished = Path(center.storage, "finished")
    assert sorted(os.listdir(finished)) == ["src.create.finished.csv", "src.csv"]


def test_a_folder_holding_the_storage_is_never_removed(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    center = DataCenter(outer / "dc")
    (outer / "x.finished.csv").write_bytes(b"h\n1\n")
    center.distProcessedFiles(True, _source(center), outer / "x.finished.csv", None)
    assert Path(center.storage, "finished", "src.csv").is_file()


def test_the_temporary_folder_itself_is_never_removed(center: DataCenter, tmp_path: Path) -> None:
    # The system's temporary folder is tmp_path here (see the fixture).
    (tmp_path / "t.finished.csv").write_bytes(b"h\n1\n")
    (tmp_path / "other.txt").write_text("someone else's")
    center.distProcessedFiles(True, _source(center), tmp_path / "t.finished.csv", None)
    assert (tmp_path / "other.txt").read_text() == "someone else's"


def test_a_linked_folder_is_not_removed(center: DataCenter, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "kept.txt").write_text("x")
    (tmp_path / "link").symlink_to(real)
    (real / "l.finished.csv").write_bytes(b"h\n1\n")
    center.distProcessedFiles(True, _source(center), tmp_path / "link" / "l.finished.csv", None)
    assert (real / "kept.txt").exists()


def test_a_processors_own_temporary_folder_is_removed(center: DataCenter) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "f.csv").write_bytes(b"h\n1\n")
    (folder / "p.csv").write_bytes(b"h,--ERRORS--\n2,bad\n")
    center.distProcessedFiles(False, _source(center), folder / "f.csv", folder / "p.csv")
    assert not folder.exists()
    assert Path(center.storage, "src.create.pending.csv").is_file()


def test_a_missing_finished_file_is_logged_and_the_rest_is_distributed(
    center: DataCenter, caplog: pytest.LogCaptureFixture
) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "p.csv").write_bytes(b"h,--ERRORS--\n2,bad\n")
    with caplog.at_level(logging.WARNING, logger="entrepot.compat.kofa"):
        center.distProcessedFiles(False, _source(center), folder / "absent.csv", folder / "p.csv")
    assert "kofa.no_such_file" in caplog.text and "absent.csv" in caplog.text
    assert Path(center.storage, "unfinished", "src.csv").is_file()
    assert Path(center.storage, "src.create.pending.csv").is_file()
    assert not Path(center.storage, "finished", "src.create.finished.csv").exists()
    assert not folder.exists()


def test_a_missing_finished_file_after_a_success_still_finishes_the_source(
    center: DataCenter, caplog: pytest.LogCaptureFixture
) -> None:
    folder = Path(tempfile.mkdtemp())
    with caplog.at_level(logging.WARNING, logger="entrepot.compat.kofa"):
        center.distProcessedFiles(True, _source(center), folder / "absent.csv", None)
    assert Path(center.storage, "finished", "src.csv").is_file()
    assert "kofa.no_such_file" in caplog.text
