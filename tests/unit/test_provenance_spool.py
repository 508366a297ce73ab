"""The library's spool records what it publishes (``Spool(..., provenance=STATE)``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import find, recover_journals
from entrepot.provenance.journal import JOURNAL_DIR
from entrepot.ship import ShipJob
from entrepot.spool import Spool


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    yield engine
    engine.dispose()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_every_way_into_a_spool_records_its_receipt(engine: sa.Engine, tmp_path: Path) -> None:
    state = tmp_path / "state"
    source = tmp_path / "source.csv"
    source.write_bytes(b"a,b\n1,2\n")
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        spool.publish_bytes(b"bytes", "a.bin")
        spool.publish_file(source, "b.csv")
        spool.publish_file(source, "c.csv", link=True)  # no byte passes: no checksum
        with spool.writer("d.txt") as handle:
            handle.write(b"written ")
            handle.writelines([b"in ", b"lines"])
        with spool.batch() as batch:
            batch.add_bytes(b"one", "e1.bin")
            batch.add_file(source, "e2.csv")
        with pytest.raises(RuntimeError), spool.batch() as batch:
            batch.add_bytes(b"never published", "f.bin")
            raise RuntimeError
    assert recover_journals(engine, state / JOURNAL_DIR) == 6
    events = {e.name: e for e in find(engine, "*")}
    assert sorted(events) == ["a.bin", "b.csv", "c.csv", "d.txt", "e1.bin", "e2.csv"]
    assert {e.kind.value for e in events.values()} == {"received"}
    place = str((tmp_path / "out").resolve())
    assert {e.place for e in events.values()} == {place}
    expected = {
        "a.bin": (5, _sha(b"bytes"), "bytes"),
        "b.csv": (8, _sha(source.read_bytes()), str(source)),
        "c.csv": (8, None, str(source)),
        "d.txt": (16, _sha(b"written in lines"), "writer"),
        "e1.bin": (3, _sha(b"one"), "batch"),
        "e2.csv": (8, _sha(source.read_bytes()), str(source)),
    }
    for name, (size, checksum, origin) in expected.items():
        event = events[name]
        assert (event.size, event.checksum, event.details["source"]) == (size, checksum, origin)


def test_without_provenance_a_spool_writes_no_journal(tmp_path: Path) -> None:
    with Spool(tmp_path / "out").prepare() as spool:
        spool.publish_bytes(b"x", "a.bin")
    assert not (tmp_path / JOURNAL_DIR).exists()


def _histories_looked_up(engine: sa.Engine) -> list[tuple[object, ...]]:
    """The parameters of every per-name look-up of files' histories made on ``engine``."""
    seen: list[tuple[object, ...]] = []

    def before(
        _conn: object, _cursor: object, statement: str, parameters: Sequence[object], *_: object
    ) -> None:
        if "coalesce((SELECT r.at" in statement:
            seen.append(tuple(parameters))

    sa.event.listen(engine, "before_cursor_execute", before)
    return seen


def test_files_published_from_python_are_traced_from_their_receipts_with_no_look_up(
    tmp_path: Path,
) -> None:
    state, partner = tmp_path / "state", tmp_path / "partner"
    partner.mkdir()
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        spool.publish_bytes(b"id\n1\n", "orders.csv")
        spool.publish_bytes(b"id\n2\n", "refunds.csv")
    (tmp_path / "out" / "new" / "dropped.csv").write_bytes(b"id\n3\n")  # another program's
    ledger = Ledger.open(state)
    try:
        looked_up = _histories_looked_up(ledger.engine)
        assert Runner(ledger).run(ShipJob(str(tmp_path / "out"), partner.as_uri())).ok
        journeys = {name: find(ledger.engine, name) for name in ("orders.csv", "dropped.csv")}
        with ledger.engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT name, kind, received_step IS NOT NULL FROM entrepot_provenance"
            ).all()
    finally:
        ledger.close()
    # No file was looked for in the database: the receipts came from the journal, and
    # the ledger held nothing of this spool (the shipment kept them for its commit).
    assert looked_up == []
    # One row per file: a receipt put and shipped is kept in its delivery's row.
    assert sorted(tuple(row) for row in stored) == [
        ("dropped.csv", "delivered", 0),
        ("orders.csv", "delivered", 1),
        ("refunds.csv", "delivered", 1),
    ]
    assert not list((state / "provenance").glob("*.journal"))
    orders = journeys["orders.csv"]
    assert [e.kind.value for e in orders] == ["received", "claimed", "delivered", "moved"]
    assert {e.checksum for e in orders[:3]} == {_sha(b"id\n1\n")}
    assert [e.kind.value for e in journeys["dropped.csv"]] == ["claimed", "delivered", "moved"]
    assert journeys["dropped.csv"][0].checksum == _sha(b"id\n3\n")  # hashed as it was sent


def test_a_receipt_is_taken_from_the_recorder_once_then_the_database_counts_failures(
    engine: sa.Engine, tmp_path: Path
) -> None:
    from entrepot.provenance import Recorder
    from entrepot.provenance.events import Kind, Outcome, place_of
    from entrepot.ship.trail import Trail

    state = tmp_path / "state"
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        spool.publish_bytes(b"first", "a.bin")
    place = place_of(tmp_path / "out")
    with Recorder(engine, state_dir=state) as recorder:
        ((key, (at, checksum)),) = recorder.receipts.items()
        assert key == (place, "a.bin") and checksum == _sha(b"first")
        assert abs(at - time.time()) < 60
        trail = Trail(place, "file:///drop", recorder)
        looked_up = _histories_looked_up(engine)
        trail.learn(["a.bin"])
        assert trail._known == {"a.bin": (_sha(b"first"), 0)} and looked_up == []
        assert recorder.receipts == {}  # taken
        recorder.record(Kind.FAILED, place, "a.bin", outcome=Outcome.FAILED)
        recorder.flush()
        trail.learn(["a.bin"])  # the run's retry: its try is the second
        assert trail._known == {"a.bin": (_sha(b"first"), 1)} and len(looked_up) == 1


def test_receipts_kept_are_the_newest_per_file_and_bounded(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.provenance import Recorder, recovery
    from entrepot.provenance.events import Kind, place_of
    from entrepot.provenance.journal import event_row
    from entrepot.ship.trail import Trail

    receipts = recovery.Receipts()
    receipts.note([
        event_row(Kind.RECEIVED, "/out", "a.bin", checksum="sha256:new", at=20.0),
        event_row(Kind.RECEIVED, "/out", "a.bin", checksum="sha256:old", at=10.0),
        event_row(Kind.DELIVERED, "/out", "b.bin", checksum="sha256:b", at=30.0),
        event_row(Kind.RECEIVED, "/in", "a.bin", checksum=None, at=5.0),
    ])  # fmt: skip
    assert receipts == {("/out", "a.bin"): (20.0, "sha256:new"), ("/in", "a.bin"): (5.0, None)}
    monkeypatch.setattr(recovery, "KEPT_RECEIPTS", 2)
    receipts.note([
        event_row(Kind.RECEIVED, "/out", "c.bin", checksum="sha256:c", at=40.0),  # past the bound
        event_row(Kind.RECEIVED, "/in", "a.bin", checksum="sha256:in", at=50.0),  # kept: known
    ])  # fmt: skip
    assert receipts == {
        ("/out", "a.bin"): (20.0, "sha256:new"),
        ("/in", "a.bin"): (50.0, "sha256:in"),
    }
    # Recovered from a journal, past the bound too: the rest are looked up, and found.
    state = tmp_path / "state"
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        for name in ("x.bin", "y.bin", "z.bin"):
            spool.publish_bytes(name.encode(), name)
    kept = recovery.Receipts()
    assert recovery.recover_journals(engine, state / JOURNAL_DIR, kept) == 3
    assert len(kept) == 2
    looked_up = _histories_looked_up(engine)
    with Recorder(engine) as recorder:
        recorder.receipts = kept
        trail = Trail(place_of(tmp_path / "out"), "file:///drop", recorder)
        trail.learn(["x.bin", "y.bin", "z.bin"])
    assert trail._known == {name: (_sha(name.encode()), 0) for name in ("x.bin", "y.bin", "z.bin")}
    ((parameters),) = looked_up
    assert sum(name in parameters for name in ("x.bin", "y.bin", "z.bin")) == 1
