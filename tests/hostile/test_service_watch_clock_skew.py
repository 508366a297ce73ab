"""The watched folder and a writer whose clock lags (a network file system).

What was wrong: the watched folder took a file at first sight when its
modification time was ``settle`` seconds behind the service's clock.  On
NFS or SMB that time comes from another machine's clock: one running
minutes behind made a file still being copied in look settled, so it was
imported half-written and then deleted while the writer went on.  Now a
file is taken only once the service itself has seen it unchanged (size,
modification time, inode, change time) for ``settle`` seconds on its own
monotonic clock, whatever its modification time says; a file already there
at the start waits one ``settle`` period too.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter
from entrepot.jobs import Ledger, Runner
from entrepot.service.config import DataCenterConfig
from entrepot.service.telemetry import RecordingTelemetry
from entrepot.service.watchfolder import WatchFolder
from tests.integration._service import Service, services_fixture  # noqa: F401
from tests.servers._common import wait_until
from tests.unit.test_dc_job import SCHEMA

CONFIG = """\
[service]
state = "state"
grace = "5s"
scan_every = "1s"

[datacenter]
root = "dc"
watch = "uploads"
settle = "1s"
"""

#: How far behind the writer's clock is: far more than ``settle``.
LAG = 600.0


def _backdate(path: Path) -> None:
    past = time.time() - LAG
    with contextlib.suppress(FileNotFoundError):  # taken already: the test tells
        os.utime(path, (past, past))


def _data_center(tmp_path: Path) -> None:
    DataCenter(tmp_path / "dc", create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    (tmp_path / "uploads").mkdir()


def test_a_file_still_growing_with_a_lagging_mtime_is_imported_whole(
    tmp_path: Path, services: list[Service]
) -> None:
    _data_center(tmp_path)
    (tmp_path / "entrepot.toml").write_text(CONFIG)
    service = Service(tmp_path / "entrepot.toml")
    services.append(service)
    service.start()
    drop = tmp_path / "uploads" / "students.skew.csv"
    rows = 16
    vanished: list[int] = []
    with open(drop, "w") as handle:
        handle.write("student_id,name\n")
        handle.flush()
        _backdate(drop)
        for number in range(rows):  # 0.25 s a row: four seconds of writing, settle is one
            time.sleep(0.25)
            if not drop.exists():
                vanished.append(number)
            handle.write(f"S{number},name{number}\n")
            handle.flush()
            _backdate(drop)
    assert vanished == [], "the file was taken while it was still being written"

    finished = tmp_path / "dc" / "finished" / "students.skew.csv"
    wait_until(finished.exists, timeout=30, what="the import")
    assert len(finished.read_text().splitlines()) == rows + 1
    wait_until(lambda: not drop.exists(), timeout=30, what="the file removed")
    assert "rows_ok=16" in service.log()


def test_a_file_there_at_the_start_waits_one_settle_period_whatever_its_mtime(
    tmp_path: Path,
) -> None:
    _data_center(tmp_path)
    drop = tmp_path / "uploads" / "students.csv"
    drop.write_text("student_id,name\nS1,Ann\n")
    _backdate(drop)
    center = DataCenterConfig(root=tmp_path / "dc", watch=tmp_path / "uploads", settle=0.3)
    with Ledger.open(tmp_path / "state") as ledger:
        folder = WatchFolder(center, Runner(ledger), RecordingTelemetry(), threading.Event())
        assert folder.settled() == []  # first sight: not taken, however old it looks
        wait = folder.next_check()
        assert wait is not None and wait == pytest.approx(0.3, abs=0.1)
        time.sleep(0.35)
        assert folder.settled() == [drop]
        # A change of any kind (here: the same size and mtime, a new inode) starts again.
        replacement = tmp_path / "uploads" / "next.csv"
        replacement.write_text("student_id,name\nS2,Bob\n")
        stat = drop.stat()
        os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(replacement, drop)
        assert folder.settled() == []
