"""Receipts kept for a shipment's commit: written in the delivery's row, each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder, find, recover_journals
from entrepot.provenance.events import place_of
from entrepot.provenance.held import KEPT, HeldReceipts, holdable
from entrepot.provenance.journal import JOURNAL_DIR, Entry, Journal, Then, event_row
from entrepot.provenance.journal_lines import read_journal
from entrepot.provenance.retention import prune_events
from entrepot.provenance.schema import hourly_table, journals_table
from entrepot.provenance.steps import tally
from entrepot.ship.trail import Trail
from entrepot.spool import Spool
from entrepot.targets.info import RemoteInfo
from tests.unit.journals import die


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    yield engine  # its tables made by the first recorder or recovery
    engine.dispose()


def _put(root: Path, state: Path, files: dict[str, bytes]) -> str:
    """``files`` published by one spool (one journal of receipts); the spool's place."""
    with Spool(root, provenance=state).prepare() as spool:
        for name, data in files.items():
            spool.publish_bytes(data, name)
    return place_of(root)


def _ship(recorder: Recorder, place: str, names: list[str], *, settle: bool = True) -> None:
    """Deliver ``names`` as a shipper does (claim, upload, move), through a trail."""
    trail = Trail(place, "ftp://partner/in", recorder)
    trail.learn(names)
    for name in names:
        claim = SimpleNamespace(name=name, file=f"{place}/claimed/t-{name}")
        local = trail.claimed(name, 2)
        ticket = trail.delivered(claim, name, RemoteInfo(name, 2), local, "cur")  # type: ignore[arg-type]
        if settle:
            trail.settled(ticket)


def _rows(engine: sa.Engine) -> list[tuple[str, str, bool]]:
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT name, kind, received_step IS NOT NULL FROM entrepot_provenance"
            " ORDER BY name, kind"
        ).all()
    return [(name, kind, bool(kept)) for name, kind, kept in found]


def _journals(state: Path) -> list[Path]:
    return sorted((state / JOURNAL_DIR).glob("*.journal"))


def test_a_shipped_file_s_receipt_is_written_in_its_delivery_s_row(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa", "b.csv": b"bb", "c.csv": b"cc"})
    with Recorder(engine, state_dir=state, job_id="job-1", hold_receipts=True) as recorder:
        assert _rows(engine) == []  # kept for the commit, not added as the recorder opened
        _ship(recorder, place, ["a.csv", "b.csv"])
    # One row per file shipped (its receipt in it), the file not shipped a row of its own.
    assert _rows(engine) == [
        ("a.csv", "delivered", True), ("b.csv", "delivered", True), ("c.csv", "received", False),
    ]  # fmt: skip
    assert _journals(state) == []
    journey = find(engine, "a.csv")
    assert [e.kind for e in journey] == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    received = journey[0]
    assert received.details == {"source": "bytes"} and received.job_id is None
    assert received.size == 2 and received.checksum == journey[2].checksum
    assert received.checksum and received.checksum.startswith("sha256:")
    assert received.target is None and received.attempt is None
    assert received.at < journey[1].at
    # Asked for receipts, the reader finds those kept in deliveries' rows too.
    assert {e.name for e in find(engine, "*.csv", kinds=[Kind.RECEIVED])} == {
        "a.csv", "b.csv", "c.csv",
    }  # fmt: skip
    h = hourly_table
    with engine.connect() as conn:
        hours = dict(
            conn.execute(sa.select(h.c.kind, sa.func.sum(h.c.files)).group_by(h.c.kind)).all()
        )
    assert hours["received"] == 3 and hours["delivered"] == 2 and hours["moved"] == 2
    assert prune_events(engine, journey[-1].at.replace(year=2100)) == 4 + 4 + 1


def test_the_hours_count_a_receipt_kept_in_a_row_at_its_own_time() -> None:
    row = (*event_row(Kind.DELIVERED, "/o", "a", size=5, at=7200.5)[:-1], '[10.0,"{}",null,"h"]')
    assert tally([row]) == {(0, "received"): [1, 5], (2, "delivered"): [1, 5]}


def test_a_receipt_that_does_not_describe_the_bytes_delivered_stays_a_row_of_its_own() -> None:
    held = HeldReceipts()
    receipt = event_row(Kind.RECEIVED, "/o", "a.csv", size=2, checksum="sha256:01")
    held.keep((Path("x.journal"), -1, [Entry(1, receipt, None)]))
    assert held.take("/o", "a.csv", 3, "sha256:01") is None  # changed since it was put
    assert held.take("/o", "a.csv", 2, "sha256:02") is None
    assert held.take("/o", "a.csv", 2, "sha256:01") == receipt
    assert held.take("/o", "a.csv", 2, "sha256:01") is None and held.rest() == []


def test_a_name_put_twice_keeps_its_newest_receipt_for_the_delivery(tmp_path: Path) -> None:
    held = HeldReceipts()
    old = event_row(Kind.RECEIVED, "/o", "a.csv", size=2, checksum="sha256:01", at=1.0)
    new = event_row(Kind.RECEIVED, "/o", "a.csv", size=2, checksum="sha256:02", at=2.0)
    held.keep((Path("x.journal"), -1, [Entry(1, new, None)]))
    held.keep((Path("y.journal"), -1, [Entry(1, old, None)]))
    assert held.take("/o", "a.csv", 2, "sha256:02") == new
    assert held.rest() == [old]


def test_only_journals_of_receipts_alone_are_kept() -> None:
    receipt = event_row(Kind.RECEIVED, "/o", "a.csv")
    archive = event_row(Kind.RECEIVED, "/o", "a.tar", details={"archive": "x1"})
    step = Then("moved", "{}", ["/o/cur/a.csv"], ["/o/new/a.csv"])
    assert holdable([Entry(1, receipt, None), Entry(2, receipt, None)])
    assert not holdable([])
    assert not holdable([Entry(1, receipt, step)])
    assert not holdable([Entry(1, archive, None)])  # an archive's hand-off: see .seals
    assert not holdable([Entry(1, event_row(Kind.DELIVERED, "/o", "a.csv"), None)])


def test_a_journal_a_recorder_committed_from_is_added_as_it_opens(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    recorder = Recorder(engine, state_dir=state)
    recorder.record(Kind.RECEIVED, "/o", "a.csv", size=1)
    recorder.flush()  # its journal is numbered in the database now
    recorder.record(Kind.RECEIVED, "/o", "b.csv", size=1)
    die(recorder._journal)
    with Recorder(engine, state_dir=state, hold_receipts=True) as shipment:
        assert len(shipment._kept or ()) == 0
        assert [e.name for e in find(engine, "*.csv")] == ["a.csv", "b.csv"]


def test_a_recorder_keeps_at_most_so_many_journals(engine: sa.Engine, tmp_path: Path) -> None:
    state = tmp_path / "state"
    for number in range(KEPT + 3):
        journal = Journal(state)
        journal.append([event_row(Kind.RECEIVED, "/o", f"f{number:04}.csv", size=1)])
        journal.close(remove=False)
    with Recorder(engine, state_dir=state, hold_receipts=True) as shipment:
        assert len(shipment._kept or ()) == KEPT
        assert len(find(engine, "f*.csv")) == 3  # the others, added as it opened
    assert len(find(engine, "f*.csv")) == KEPT + 3
    assert _journals(state) == []


def test_a_failed_commit_keeps_every_receipt_for_the_next_flush(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.provenance import inserts

    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa", "b.csv": b"bb"})
    recorder = Recorder(engine, state_dir=state, hold_receipts=True)
    _ship(recorder, place, ["a.csv"])
    real = inserts.insert_rows

    def failing(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr("entrepot.provenance.recorder.insert_rows", failing)
    with pytest.raises(sa.exc.OperationalError):
        recorder.flush()
    assert _rows(engine) == [] and len(_journals(state)) == 2
    monkeypatch.setattr("entrepot.provenance.recorder.insert_rows", real)
    recorder.close()
    assert _rows(engine) == [("a.csv", "delivered", True), ("b.csv", "received", False)]
    assert _journals(state) == []


def test_a_shipment_that_died_before_its_commit_leaves_every_receipt_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa", "b.csv": b"bb"})
    out = tmp_path / "out"
    script = f"""
import os, signal, sys
from types import SimpleNamespace
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from entrepot.db import make_engine
from entrepot.provenance import Recorder
from tests.unit.test_provenance_held import _ship
engine = make_engine({f"sqlite:///{tmp_path / 'ledger.sqlite3'}"!r}, purpose="ledger")
recorder = Recorder(engine, state_dir={str(state)!r}, job_id="job-1", hold_receipts=True)
os.rename({str(out / "new" / "a.csv")!r}, {str(out / "cur" / "a.csv")!r})
_ship(recorder, {place!r}, ["a.csv"])
os.kill(os.getpid(), signal.SIGKILL)
"""
    (out / "cur").mkdir(exist_ok=True)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert len(_journals(state)) == 2  # the put's and the shipment's
    assert recover_journals(engine, state / JOURNAL_DIR) > 0
    kinds = {name: [e.kind for e in find(engine, name)] for name in ("a.csv", "b.csv")}
    assert kinds == {
        "a.csv": [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED],
        "b.csv": [Kind.RECEIVED],
    }
    assert recover_journals(engine, state / JOURNAL_DIR) == 0 and _journals(state) == []


def test_a_shipment_killed_after_its_commit_adds_nothing_twice(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa"})
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from entrepot.db import make_engine
from entrepot.provenance import Recorder
from entrepot.provenance.held import HeldReceipts
from tests.unit.test_provenance_held import _ship
HeldReceipts.recorded = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
engine = make_engine({f"sqlite:///{tmp_path / 'ledger.sqlite3'}"!r}, purpose="ledger")
recorder = Recorder(engine, state_dir={str(state)!r}, job_id="job-1", hold_receipts=True)
_ship(recorder, {place!r}, ["a.csv"])
recorder.flush()
"""
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert _rows(engine) == [("a.csv", "delivered", True)]
    with engine.connect() as conn:
        marked = conn.execute(sa.select(journals_table.c.seq)).scalars().all()
    assert -1 in marked  # the put's journal, marked recovered with the receipts
    recover_journals(engine, state / JOURNAL_DIR)
    journey = [e.kind for e in find(engine, "a.csv")]
    assert journey == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert _journals(state) == []


def test_journal_rows_of_every_release_are_read(tmp_path: Path) -> None:
    full = event_row(Kind.RECEIVED, "/o", "a.csv", size=1, at=5.0)
    lines = [
        json.dumps([1, [list(full)], None]),
        json.dumps([2, [list(full[:-1])], None]),  # the release before: no receipt column
        json.dumps([3, [list(full[:-3])], None]),  # older: no claim, no step either
        json.dumps([4, *full[:-3], None]),  # the oldest form: one event a line
    ]
    entries = list(read_journal(line.encode() for line in lines))
    assert [entry.seq for entry in entries] == [1, 2, 3, 4]
    assert all(entry.row == full for entry in entries)
    # Written without the receipt's column, empty in a journal: as the release before
    # writes its lines, and reads them.
    journal = Journal(tmp_path)
    journal.append([full])
    journal.close(remove=False)
    [written] = journal.path.read_bytes().splitlines()
    assert json.loads(written) == [1, [list(full[:-1])], None]


def test_a_version_7_ledger_gets_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    from entrepot.db import ensure_schema, schema_version
    from entrepot.provenance.schema import MIGRATIONS

    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_schema(engine, "provenance", MIGRATIONS[:7])
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE entrepot_provenance DROP COLUMN received_step")
        conn.exec_driver_sql(
            "INSERT INTO entrepot_provenance (at, kind, place, name, outcome, details) "
            "VALUES (1.0, 'received', '/o', 'old.csv', 'ok', '{}')"
        )
    ensure_schema(engine, "provenance", MIGRATIONS)
    assert schema_version(engine, "provenance") == 8
    columns = {c["name"] for c in sa.inspect(engine).get_columns("entrepot_provenance")}
    assert "received_step" in columns
    assert [e.kind for e in find(engine, "old.csv")] == [Kind.RECEIVED]
    engine.dispose()


def test_a_recorder_that_fails_to_open_releases_the_journals_it_kept(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    _put(tmp_path / "out", state, {"a.csv": b"aa"})

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("entrepot.provenance.recorder.Journal", full_disk)
    with pytest.raises(OSError):
        Recorder(engine, state_dir=state, hold_receipts=True)
    monkeypatch.undo()
    assert recover_journals(engine, state / JOURNAL_DIR) == 1  # released: added by the next
    assert os.listdir(state / JOURNAL_DIR) == []


def test_a_long_run_commits_the_receipts_it_kept_as_rows_of_their_own(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("entrepot.provenance.held.KEEP_FOR", 0.05)
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa", "b.csv": b"bb"})
    with Recorder(engine, state_dir=state, hold_receipts=True) as recorder:
        waited = time.monotonic() + 10
        while _journals(state) != [recorder._journal.path] and time.monotonic() < waited:
            time.sleep(0.01)
        # Seen by a trace while the run goes on: committed, their journal gone.
        assert _rows(engine) == [("a.csv", "received", False), ("b.csv", "received", False)]
        assert [e.kind for e in find(engine, "a.csv")] == [Kind.RECEIVED]
        _ship(recorder, place, ["a.csv"])  # the checksum still taken from the receipt
    assert _rows(engine) == [
        ("a.csv", "delivered", False), ("a.csv", "received", False), ("b.csv", "received", False),
    ]  # fmt: skip
    journey = find(engine, "a.csv")
    assert [e.kind for e in journey] == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert journey[0].checksum == journey[2].checksum
    assert _journals(state) == []


def test_a_recorder_closed_in_time_commits_nothing_after(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("entrepot.provenance.held.KEEP_FOR", 0.2)
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa"})
    with Recorder(engine, state_dir=state, hold_receipts=True) as recorder:
        _ship(recorder, place, ["a.csv"])
    time.sleep(0.4)
    assert _rows(engine) == [("a.csv", "delivered", True)]


def test_receipts_whose_early_commit_failed_stay_kept_for_the_flush(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = threading.Event()

    def failing(*args: object, **kwargs: object) -> None:
        failed.set()
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("entrepot.provenance.held.KEEP_FOR", 0.01)
    monkeypatch.setattr("entrepot.provenance.held.insert_rows", failing)
    state = tmp_path / "state"
    place = _put(tmp_path / "out", state, {"a.csv": b"aa"})
    with Recorder(engine, state_dir=state, hold_receipts=True) as recorder:
        assert failed.wait(10)
        _ship(recorder, place, ["a.csv"])
    assert _rows(engine) == [("a.csv", "delivered", True)]  # kept, then written by the flush
    assert _journals(state) == []
