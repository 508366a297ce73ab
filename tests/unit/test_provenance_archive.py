"""An archive's provenance: sealed, handed off to a spool, received there, then shipped."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from entrepot.archive import RollingWriter
from entrepot.archive.series import peek_header
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, find
from entrepot.provenance.reader import by_file, verdict
from entrepot.ship import ShipJob, trail
from entrepot.spool import Spool


def _archive_id(path: Path) -> str:
    header = peek_header(path)
    assert header is not None
    return header.archive_id.hex


def test_an_archives_journey_from_seal_to_the_partner(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    state = tmp_path / "state"
    writer = RollingWriter(
        tmp_path / "archives", "events-{seq}.arc", compression="zstd", spool=spool,
        provenance=state,
    )  # fmt: skip
    for number in range(3):
        writer.write({"kind": "reading"}, {"value": number})
    writer.close()
    (name,) = spool.names("new")
    data = spool.path("new", name).read_bytes()
    drop = tmp_path / "drop"
    drop.mkdir()
    with Ledger.open(state) as ledger:
        assert Runner(ledger).run(ShipJob(spool.root, drop.as_uri())).ok
        journeys = by_file(find(ledger.engine, name))
    archive = journeys[os.path.realpath(tmp_path / "archives"), name]
    assert [e.kind for e in archive] == [Kind.ARCHIVED, Kind.SEALED, Kind.HANDED_OFF]
    archive_id = _archive_id(drop / name)
    assert archive[0].details == {"archive": archive_id}
    assert archive[0].size is None and archive[0].checksum is None
    assert archive[1].details == {"compression": "zstd", "records": 3, "archive": archive_id}
    assert archive[2].details == {"as": name, "spool": str(spool.root), "archive": archive_id}
    shipped = journeys[os.path.realpath(spool.root), name]
    kinds = [e.kind for e in shipped]
    assert kinds == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    # Computed once, as the archive was compressed; the shipper read it from the receipt.
    assert {archive[1].checksum, shipped[0].checksum, shipped[2].checksum} == {checksum}
    assert (drop / name).read_bytes() == data
    assert verdict(shipped).startswith(f"delivered to {drop.as_uri()} at ")


def test_an_archive_without_a_spool_is_sealed_only(tmp_path: Path) -> None:
    writer = RollingWriter(tmp_path / "archives", "plain-{seq}.arc", provenance=tmp_path / "s")
    writer.write({"kind": "reading"}, b"x")
    writer.close()
    (final,) = writer.finished
    with Ledger.open(tmp_path / "s") as ledger:
        from entrepot.provenance import recover_journals

        assert recover_journals(ledger.engine, tmp_path / "s" / "provenance") == 2
        opened, event = find(ledger.engine, final.name)
    assert opened.kind is Kind.ARCHIVED and opened.details == {"archive": _archive_id(final)}
    assert event.kind is Kind.SEALED and event.size == final.stat().st_size
    # Hashed as the writer wrote it: never read back.
    assert event.checksum == "sha256:" + hashlib.sha256(final.read_bytes()).hexdigest()
    assert event.details == {"compression": None, "records": 1, "archive": _archive_id(final)}


def test_an_uncompressed_archive_is_shipped_without_a_second_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[object] = []
    monkeypatch.setattr(
        trail, "sha256_of", lambda src, size=None: reads.append(src) or "sha256:wrong"
    )
    spool = Spool(tmp_path / "outbox").prepare()
    state = tmp_path / "state"
    writer = RollingWriter(tmp_path / "a", "plain-{seq}.arc", spool=spool, provenance=state)
    for number in range(500):  # past the writer's buffer: written in several pieces
        writer.write({"kind": "reading"}, {"value": number, "pad": "x" * 200})
    writer.close()
    (name,) = spool.names("new")
    checksum = "sha256:" + hashlib.sha256(spool.path("new", name).read_bytes()).hexdigest()
    drop = tmp_path / "drop"
    drop.mkdir()
    with Ledger.open(state) as ledger:
        assert Runner(ledger).run(ShipJob(spool.root, drop.as_uri())).ok
        events = find(ledger.engine, name)
    assert reads == []  # the claim took the checksum from the receipt
    assert {e.checksum for e in events if e.kind not in (Kind.MOVED, Kind.ARCHIVED)} == {checksum}


def test_each_archive_is_archived_once_when_its_first_record_is_written(tmp_path: Path) -> None:
    state = tmp_path / "s"
    writer = RollingWriter(tmp_path / "a", "part-{seq}.arc", provenance=state)
    for number in range(3):
        writer.write({"kind": "reading"}, b"x")
        if number < 2:
            writer.roll()
    writer.close()
    names = [path.name for path in writer.finished]
    assert len(names) == 3
    with Ledger.open(state) as ledger:
        from entrepot.provenance import recover_journals

        recover_journals(ledger.engine, state / "provenance")
        journeys = by_file(find(ledger.engine, "part-*"))
    place = os.path.realpath(tmp_path / "a")
    for path in writer.finished:
        kinds = [e.kind for e in journeys[place, path.name]]
        assert kinds == [Kind.ARCHIVED, Kind.SEALED]
        assert journeys[place, path.name][0].details == {"archive": _archive_id(path)}


def test_an_archive_that_cannot_be_journaled_takes_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.archive.handoff import HandOff

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    writer = RollingWriter(tmp_path / "a", "part-{seq}.arc", provenance=tmp_path / "s")
    monkeypatch.setattr(HandOff, "opened", full)
    with pytest.raises(OSError, match="No space"):
        writer.write({"kind": "reading"}, b"x")
    assert list((tmp_path / "a").iterdir()) == []  # no half-opened archive left behind
    monkeypatch.undo()
    writer.write({"kind": "reading"}, b"y")
    writer.close()
    (final,) = writer.finished
    assert final.exists()


def test_archives_append_to_the_shared_file_of_arrivals_not_a_journal_each(
    tmp_path: Path,
) -> None:
    from entrepot.provenance import recover_journals
    from entrepot.provenance.journal import JOURNAL_DIR
    from entrepot.provenance.shared import ARRIVALS

    spool = Spool(tmp_path / "outbox").prepare()
    state = tmp_path / "s"
    writer = RollingWriter(tmp_path / "a", "part-{seq}.arc", spool=spool, provenance=state)
    for number in range(40):
        writer.write({"kind": "reading"}, {"value": number})
        writer.roll()
    writer.close()
    folder = state / JOURNAL_DIR
    assert sorted(path.name for path in folder.iterdir()) == [ARRIVALS]
    lines = (folder / ARRIVALS).read_bytes().split(b"\n")
    # Each archive: a line as it opened, and one for its seal, hand-off and receipt together.
    assert len([line for line in lines if line]) == 2 * 40
    with Ledger.open(state) as ledger:
        recover_journals(ledger.engine, folder)
        assert list(folder.iterdir()) == []  # taken, recorded and deleted
        journeys = by_file(find(ledger.engine, "part-*"))
    here, there = os.path.realpath(tmp_path / "a"), os.path.realpath(spool.root)
    assert len(spool.names("new")) == 40
    for name in spool.names("new"):
        archive_id = _archive_id(spool.path("new", name))
        kinds = [(e.kind, e.details["archive"]) for e in journeys[here, name]]
        assert kinds == [(k, archive_id) for k in (Kind.ARCHIVED, Kind.SEALED, Kind.HANDED_OFF)]
        (received,) = journeys[there, name]
        assert received.kind is Kind.RECEIVED and received.details["archive"] == archive_id


def test_a_link_in_place_of_the_shared_file_is_not_followed_and_the_archive_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from entrepot.provenance.journal import JOURNAL_DIR
    from entrepot.provenance.shared import ARRIVALS

    spool = Spool(tmp_path / "outbox").prepare()
    state = tmp_path / "s"
    writer = RollingWriter(tmp_path / "a", "part-{seq}.arc", spool=spool, provenance=state)
    writer.write({"kind": "reading"}, b"x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"")
    link = state / JOURNAL_DIR / ARRIVALS
    link.unlink()
    link.symlink_to(elsewhere)
    writer.roll()  # the seal cannot be journaled: told, and the archive is handed on
    assert elsewhere.read_bytes() == b""
    assert len(spool.names("new")) == 1 and list((tmp_path / "a").iterdir()) == []
    assert "archive.provenance_failed" in caplog.text
    # A new archive cannot be journaled either: its first write fails, leaving nothing.
    with pytest.raises(OSError):
        writer.write({"kind": "reading"}, b"y")
    writer.close()
    assert list((tmp_path / "a").iterdir()) == [] and elsewhere.read_bytes() == b""
