"""The data center's watched folder under the daemon: a dropped CSV file is stored, imported
into the table its name gives, and removed; a refused one moves aside; a crash between the
steps imports nothing twice."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.datacenter import DataCenter
from entrepot.jobs import Ledger, Runner
from entrepot.service.config import DataCenterConfig
from entrepot.service.daemon import Daemon
from entrepot.service.loading import load_config
from entrepot.service.telemetry import RecordingTelemetry
from entrepot.service.watchfolder import WatchFolder, table_for
from tests.servers._common import wait_until
from tests.unit.test_dc_job import SCHEMA

CONFIG = """\
[service]
state = "state"
scan_every = "1s"

[datacenter]
root = "dc"
watch = "uploads"
settle = "0.2s"
"""


def _old(path: Path) -> Path:
    """Make ``path`` look written a minute ago (settled)."""
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def _rows(root: Path) -> list[tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{root / '.state' / 'datacenter.sqlite'}")
    try:
        with engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(sa.text("SELECT * FROM students")))
    finally:
        engine.dispose()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, RecordingTelemetry]]:
    DataCenter(tmp_path / "dc", create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "entrepot.toml").write_text(CONFIG)
    telemetry = RecordingTelemetry()
    service = Daemon(load_config(tmp_path / "entrepot.toml"), telemetry=telemetry, hints=False)
    service.start()
    try:
        yield service, telemetry
    finally:
        service.request_stop()
        service.shutdown()


def test_a_dropped_file_is_imported_into_the_table_its_name_gives(
    daemon: tuple[Daemon, RecordingTelemetry], tmp_path: Path
) -> None:
    service, telemetry = daemon
    drop = tmp_path / "uploads" / "students.2026-03.csv"
    drop.write_text("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")
    (tmp_path / "uploads" / ".students.part").write_text("student_id,name\n")  # never taken
    _old(drop)

    def ticked(done: Path) -> bool:
        service.tick()  # without notifications, the periodic scan finds the files
        time.sleep(0.05)
        return done.exists()

    imported = tmp_path / "dc" / "unfinished" / "students.2026-03.csv"  # one row was refused
    wait_until(lambda: ticked(imported), timeout=60, what="the import")
    wait_until(lambda: not drop.exists(), timeout=60, what="the file taken")
    assert service.wait_idle(20)
    root = tmp_path / "dc"
    assert (root / "students.2026-03.create.pending.csv").exists()
    imports = [run for run in telemetry.runs if run.kind == "import"]
    assert [(r.outcome, r.rows_ok, r.rows_failed) for r in imports] == [("succeeded", 2, 1)]
    assert (tmp_path / "uploads" / ".students.part").exists()

    bad = tmp_path / "uploads" / "notes.txt"
    bad.write_text("not a csv")
    _old(bad)
    wait_until(lambda: ticked(tmp_path / "uploads" / "rejected" / "notes.txt"), timeout=60)
    assert not bad.exists()


def test_a_crash_after_storing_imports_once(tmp_path: Path) -> None:
    DataCenter(tmp_path / "dc", create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    (tmp_path / "uploads").mkdir()
    center = DataCenterConfig(root=tmp_path / "dc", watch=tmp_path / "uploads", settle=0.0)
    drop = tmp_path / "uploads" / "students.csv"
    drop.write_text("student_id,name\nS1,Ann\n")
    # Stored in the data center, then the service died before importing or removing it.
    DataCenter(tmp_path / "dc").upload(drop)
    with Ledger.open(tmp_path / "state") as ledger:
        folder = WatchFolder(center, Runner(ledger), RecordingTelemetry(), threading.Event())
        folder.take(drop)
        assert not drop.exists()
        assert _rows(tmp_path / "dc") == [("S1", "Ann")]
        assert len(ledger.jobs(kind="import")) == 1
        # And once more (the file came back by mistake): it was imported, nothing runs again.
        drop.write_text("student_id,name\nS1,Ann\n")
        folder.take(drop)
        assert not drop.exists() and len(ledger.jobs(kind="import")) == 1


def test_table_names() -> None:
    assert table_for("students.csv") == "students"
    assert table_for("exam results.2026.csv.gz") == "exam_results"


def test_a_dropped_file_over_the_configured_limit_moves_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    DataCenter(tmp_path / "dc", create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    (tmp_path / "uploads").mkdir()
    text = "student_id,name\nS1,Ann\n"
    center = DataCenterConfig(
        root=tmp_path / "dc", watch=tmp_path / "uploads", settle=0.0, max_upload=len(text) - 1
    )
    with Ledger.open(tmp_path / "state") as ledger:
        telemetry = RecordingTelemetry()
        folder = WatchFolder(center, Runner(ledger), telemetry, threading.Event())
        drop = tmp_path / "uploads" / "students.csv"
        drop.write_text(text)
        folder.take(drop)
        assert not drop.exists()
        assert (tmp_path / "uploads" / "rejected" / "students.csv").read_text() == text
        assert [(run.outcome, run.failed_files) for run in telemetry.runs] == [("failed", 1)]
        assert f"larger than the limit of {len(text) - 1} bytes" in caplog.text
        assert ledger.jobs(kind="import") == []
        # At the limit, it is taken.
        center = center.model_copy(update={"max_upload": len(text)})
        folder = WatchFolder(center, Runner(ledger), telemetry, threading.Event())
        drop.write_text(text)
        folder.take(drop)
        assert not drop.exists() and _rows(tmp_path / "dc") == [("S1", "Ann")]


def test_a_file_swapped_for_a_link_after_it_settled_is_refused_never_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    DataCenter(tmp_path / "dc", create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    (tmp_path / "uploads").mkdir()
    secret = tmp_path / "elsewhere.csv"  # any file the service may read, named by a link
    secret.write_text("student_id,name\nS9,Secret Sam\n")
    center = DataCenterConfig(root=tmp_path / "dc", watch=tmp_path / "uploads", settle=0.0)
    drop = tmp_path / "uploads" / "students.csv"
    drop.write_text("student_id,name\nS1,Ann\n")
    _old(drop)
    with Ledger.open(tmp_path / "state") as ledger:
        folder = WatchFolder(center, Runner(ledger), RecordingTelemetry(), threading.Event())
        assert folder.settled() == [drop]
        # Between the look and the take, whoever drops files puts a link in its place.
        drop.unlink()
        drop.symlink_to(secret)
        folder.take(drop)
        assert "is a symbolic link: refused" in caplog.text
        rejected = tmp_path / "uploads" / "rejected" / "students.csv"
        assert rejected.is_symlink() and not os.path.lexists(drop)
        assert ledger.jobs(kind="import") == []
        assert sorted(p.name for p in (tmp_path / "dc").iterdir() if p.suffix == ".csv") == []
        # A link seen as one is never taken at all.
        (tmp_path / "uploads" / "more.csv").symlink_to(secret)
        assert folder.settled() == []
