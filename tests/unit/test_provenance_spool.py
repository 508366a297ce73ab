"""The library's spool records what it publishes (``Spool(..., provenance=STATE)``)."""

from __future__ import annotations

import hashlib
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


def test_a_file_published_from_python_is_traced_from_its_receipt_to_its_delivery(
    tmp_path: Path,
) -> None:
    state, partner = tmp_path / "state", tmp_path / "partner"
    partner.mkdir()
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        spool.publish_bytes(b"id\n1\n", "orders.csv")
    ledger = Ledger.open(state)
    try:
        assert Runner(ledger).run(ShipJob(str(tmp_path / "out"), partner.as_uri())).ok
        journey = find(ledger.engine, "orders.csv")
    finally:
        ledger.close()
    assert [e.kind.value for e in journey] == ["received", "claimed", "delivered", "moved"]
    assert {e.checksum for e in journey[:3]} == {_sha(b"id\n1\n")}


def test_without_provenance_a_spool_writes_no_journal(tmp_path: Path) -> None:
    with Spool(tmp_path / "out").prepare() as spool:
        spool.publish_bytes(b"x", "a.bin")
    assert not (tmp_path / JOURNAL_DIR).exists()
