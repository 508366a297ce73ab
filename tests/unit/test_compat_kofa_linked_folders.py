"""Kofa's listings never go through a subfolder of the storage that is a symbolic link.

What was wrong: only the entries of ``logs/`` and ``finished/`` were checked
for being links; the folders themselves were followed.  Since a listed file
is read when it is described (its line count, a log's ``user:`` and other
markers), a ``logs/`` or ``finished/`` replaced by a link to another folder
had files from outside the storage listed and read.

What is expected now: a subfolder that is a symbolic link (dangling or not)
is listed as empty, with a warning ``kofa.folder_is_link``, and nothing in
it is read.  Files are read relative to their folder opened without
following a link, so a folder swapped for a link after the listing is caught
too, as is one swapped before a later ``getLinesNumber()``.  The storage
root as configured may be a link: the operator chose it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import entrepot.compat.kofa as kofa
from entrepot.compat.kofa import DataCenter


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return DataCenter(tmp_path / "dc")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the storage holding a log and a finished file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "app.log").write_bytes(b"user: s3cr3t\nprocessed: 42\n")
    (folder / "x.finished.csv").write_bytes(b"h\nsecret row\n")
    return folder


def _replace_by_link(folder: Path, target: Path) -> None:
    for entry in folder.iterdir():
        entry.unlink()
    folder.rmdir()
    folder.symlink_to(target)


@pytest.mark.parametrize("name", ["logs", "finished"])
def test_a_linked_subfolder_is_listed_as_empty_with_a_warning(
    center: DataCenter, outside: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    _replace_by_link(Path(center.storage, name), outside)
    with caplog.at_level(logging.WARNING):
        assert center.getLogFiles() == []
        assert center.getFinishedFiles() == []
    assert "kofa.folder_is_link" in caplog.text
    assert name in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_dangling_linked_logs_folder_is_listed_as_empty(
    center: DataCenter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``getLogFiles`` makes a missing ``logs/``; a dangling link there is not made nor followed."""
    _replace_by_link(Path(center.storage, "logs"), tmp_path / "nowhere")
    with caplog.at_level(logging.WARNING):
        assert center.getLogFiles() == []
    assert "kofa.folder_is_link" in caplog.text
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_swapped_for_a_link_after_the_listing_is_not_read(
    center: DataCenter, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing saw the real folder; the files are then read through their folder,
    opened again without following a link, so the swap is caught."""
    logs = Path(center.storage, "logs")
    (logs / "app.log").write_bytes(b"user: alice\n")

    def listed_then_swapped(real: Callable[..., Any]) -> Callable[..., Any]:
        def listing(*args: Any) -> Any:
            entries = real(*args)
            _replace_by_link(logs, outside)
            return entries

        return listing

    monkeypatch.setattr(kofa, "regular_files", listed_then_swapped(kofa.regular_files))
    assert center.getLogFiles() == []


def test_a_later_read_through_a_swapped_folder_is_refused(
    center: DataCenter, outside: Path
) -> None:
    finished = Path(center.storage, "finished")
    (finished / "x.finished.csv").write_bytes(b"h\n")
    (file,) = center.getFinishedFiles()
    _replace_by_link(finished, outside)
    with pytest.raises(OSError, match="symbolic link"):
        file.getLinesNumber()
    with pytest.raises(OSError, match="symbolic link"):
        file.getSize()


def test_the_storage_root_as_configured_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "configured").symlink_to(real)
    center = DataCenter(tmp_path / "configured")
    (real / "data.csv").write_bytes(b"a\nb\n")
    (real / "logs" / "app.log").write_bytes(b"user: alice\n")
    assert [(file.name, file.lines) for file in center.getPendingFiles()] == [("data.csv", 2)]
    assert [log.userid for log in center.getLogFiles()] == [" alice"]


def test_a_file_made_by_hand_is_read_through_the_folder_named(
    tmp_path: Path, outside: Path
) -> None:
    """A ``DataCenterFile`` made by the caller trusts the folder the caller named."""
    (tmp_path / "named").symlink_to(outside)
    assert kofa.LogFile(tmp_path / "named" / "app.log").userid == " s3cr3t"
    assert os.path.islink(tmp_path / "named")
