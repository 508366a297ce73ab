"""Kofa's listings and file descriptions, as Kofa's own ``datacenter.py`` made them.

What was wrong: ``DataCenterFile`` had no ``size``, ``uploaddate`` or
``lines``; ``getLogFiles`` gave plain files (no ``getUserId`` and the other
markers), listed ``payments.log`` and took a name such as ``123`` for a
backup; ``getPendingFiles`` listed ``B.CSV`` and ``c.csv.gz`` and hid
``.hidden.csv``; ``getFinishedFiles`` stopped at 20 files.

What is expected now: what Kofa's code does, told in each test, except that
a symbolic link is never listed nor read, and a log that is not UTF-8 is
read with replacement characters instead of failing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from entrepot.compat.kofa import DataCenter, DataCenterFile, LogFile


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return DataCenter(tmp_path / "dc")


def _write(path: Path, content: bytes = b"x\n", mtime: float | None = None) -> Path:
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _names(files: Sequence[DataCenterFile]) -> list[str]:
    return [file.name for file in files]


def test_a_file_is_described_when_it_is_made(center: DataCenter) -> None:
    """Kofa's file object sets ``size``, ``uploaddate`` and ``lines`` in its constructor."""
    path = _write(Path(center.storage, "finished", "a.create.finished.csv"), b"h\n1\n2\n")
    file = center.getFinishedFiles()[0]
    assert (file.size, file.lines, file.rel_path) == (
        "6 bytes",
        3,
        "finished/a.create.finished.csv",
    )
    assert file.uploaddate == file.getDate()
    path.write_bytes(b"h\n" * 1000)
    assert (file.size, file.lines) == ("6 bytes", 3)
    assert (file.getSize(), file.getLinesNumber()) == ("1.95 kb", 1000)


def test_a_link_is_never_read(center: DataCenter, tmp_path: Path) -> None:
    """Kofa followed a link; here a link is refused, so nothing outside the storage is read."""
    secret = _write(tmp_path / "secret.csv", b"a\nb\n")
    link = Path(center.storage, "link.csv")
    link.symlink_to(secret)
    with pytest.raises(OSError, match="symbolic link"):
        DataCenterFile(link)
    assert center.getPendingFiles() == []


def test_pending_files_are_the_names_ending_in_dot_csv(center: DataCenter) -> None:
    """Kofa lists a file of the root whose name ends in ``.csv``, case and leading dot alike."""
    root = Path(center.storage)
    for name in ("a.csv", ".hidden.csv", "B.CSV", "c.csv.gz", "notes.txt"):
        _write(root / name)
    (root / "folder.csv").mkdir()
    assert _names(center.getPendingFiles()) == [".hidden.csv", "a.csv"]


def test_pending_files_by_date_keep_name_order_for_equal_times(center: DataCenter) -> None:
    """Kofa sorts by name, then newest first keeping ties in name order; other sorts are by name."""
    root = Path(center.storage)
    for name, mtime in (("a.csv", 10), ("b.csv", 20), ("c.csv", 10), ("d.csv", 20)):
        _write(root / name, mtime=1_000_000 + mtime)
    assert _names(center.getPendingFiles(sort="date")) == ["b.csv", "d.csv", "a.csv", "c.csv"]
    assert _names(center.getPendingFiles(sort="size")) == ["a.csv", "b.csv", "c.csv", "d.csv"]


def test_finished_files_are_the_newest_hundred(center: DataCenter) -> None:
    """Kofa's ``max_files`` is 100: the newest matching files, newest first."""
    finished = Path(center.storage, "finished")
    for number in range(105):
        _write(finished / f"s{number:03}.create.finished.csv", mtime=1_000_000 + number)
    _write(finished / "s.csv", mtime=2_000_000)
    files = center.getFinishedFiles()
    assert len(files) == 100
    assert files[0].name == "s104.create.finished.csv"
    assert files[-1].name == "s005.create.finished.csv"
    center.max_files = 3
    assert len(center.getFinishedFiles()) == 3


def test_finished_limit_counts_names_before_dropping_what_is_no_file(center: DataCenter) -> None:
    """Kofa cuts the matching names to ``max_files``, then leaves out what is not a file."""
    finished = Path(center.storage, "finished")
    _write(finished / "old.create.finished.csv", mtime=1_000_000)
    _write(finished / "mid.create.finished.csv", mtime=2_000_000)
    folder = finished / "new.create.finished.csv"
    folder.mkdir()
    os.utime(folder, (3_000_000, 3_000_000))
    center.max_files = 2
    assert _names(center.getFinishedFiles()) == ["mid.create.finished.csv"]


def test_log_files_are_log_file_objects_without_payments_log(center: DataCenter) -> None:
    """Kofa lists ``LogFile`` objects by name, always without ``payments.log``.

    A backup is a name with at least one character, a dot and digits at the
    end: ``123`` and ``.1`` are not backups; ``app.log.1`` is.
    """
    logs = Path(center.storage, "logs")
    for name in ("app.log", "app.log.1", "payments.log", "123", ".1"):
        _write(logs / name)
    files = center.getLogFiles()
    assert _names(files) == [".1", "123", "app.log"]
    assert all(isinstance(file, LogFile) for file in files)
    assert [file.rel_path for file in files] == [".1", "123", "app.log"]
    assert _names(center.getLogFiles(exclude_backups=False)) == [
        ".1",
        "123",
        "app.log",
        "app.log.1",
    ]


def test_only_true_or_one_leaves_backups_out(center: DataCenter) -> None:
    """Kofa compares ``exclude_backups`` with ``True``: ``'yes'`` lists the backups."""
    logs = Path(center.storage, "logs")
    _write(logs / "app.log")
    _write(logs / "app.log.1")
    assert _names(center.getLogFiles(exclude_backups=1)) == ["app.log"]  # type: ignore[arg-type]
    assert _names(center.getLogFiles(exclude_backups="yes")) == ["app.log", "app.log.1"]  # type: ignore[arg-type]


def test_log_file_markers(center: DataCenter) -> None:
    """Kofa reads ``name: text`` lines: the name in lower case, the text as it follows the
    colon, the last line winning; defaults when a marker is missing or empty."""
    logs = Path(center.storage, "logs")
    text = "User: alice\nmode: create\n  Processed: 3 rows  \nmode: update\nsource:\n"
    _write(logs / "import.log", text.encode())
    _write(logs / "empty.log", b"")
    empty, log = center.getLogFiles()
    assert (log.userid, log.mode, log.stats, log.source) == (" alice", " update", " 3 rows", None)
    assert (log.getUserId(), log.getMode(), log.getStats(), log.getSourcePath()) == (
        " alice",
        " update",
        " 3 rows",
        None,
    )
    assert (empty.userid, empty.mode, empty.stats, empty.source) == (
        "<UNKNOWN>",
        "<NOT SET>",
        "<Info not avail.>",
        None,
    )


def test_log_lines_break_at_unicode_boundaries_and_bad_bytes_are_replaced(
    center: DataCenter,
) -> None:
    """Kofa read logs as UTF-8 through ``codecs``, which breaks lines at every Unicode line
    boundary; where Kofa failed on bytes that are not UTF-8, they are read as U+FFFD."""
    logs = Path(center.storage, "logs")
    _write(logs / "a.log", "user: bob\u2028mode: remove\nsource: /x/\xff.csv\n".encode())
    _write(logs / "b.log", b"user: \xff\xfe\n")
    first, second = center.getLogFiles()
    assert (first.userid, first.mode, first.source) == (" bob", " remove", " /x/\xff.csv")
    assert second.userid == " \ufffd\ufffd"


def test_links_in_logs_are_not_listed_and_a_missing_logs_folder_is_made(
    center: DataCenter, tmp_path: Path
) -> None:
    """Kofa creates ``logs/`` when it is missing; a link there is not listed (Kofa followed it)."""
    logs = Path(center.storage, "logs")
    logs.rmdir()
    assert center.getLogFiles() == []
    assert logs.is_dir()
    (logs / "other.log").symlink_to(_write(tmp_path / "outside.log", b"user: root\n"))
    assert center.getLogFiles() == []
