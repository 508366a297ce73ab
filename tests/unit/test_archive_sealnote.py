"""The hand-off's note: a torn one is dropped, a live one left alone, a settled one gone."""

from __future__ import annotations

from pathlib import Path

from entrepot.archive import ArchiveWriter, HandOff, RollingWriter, recover_directory
from entrepot.archive.sealnote import HeldNote, SealNote, note_path
from entrepot.spool import Spool


def _sealed_in_place(folder: Path, name: str) -> ArchiveWriter:
    """An archive sealed but still open-named: where a killed hand-off starts from."""
    writer = ArchiveWriter(folder / name)
    writer.write({"kind": "reading"}, {"value": 1})
    writer.finish()
    writer.release()
    return writer


def test_a_seal_leaves_no_note(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    with RollingWriter(tmp_path / "a", "e-{seq}.arc", spool=spool, provenance=tmp_path / "s") as w:
        w.write({"kind": "reading"}, b"x")
    assert list((tmp_path / "a").iterdir()) == []
    assert len(spool.names("new")) == 1


def test_a_torn_note_is_dropped_and_its_open_file_recovered(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    _sealed_in_place(folder, "e-0.arc")
    note_path(folder, "e-0.arc").write_bytes(b'{"archive": "12')  # killed mid-write
    spool = Spool(tmp_path / "outbox").prepare()
    recovered = recover_directory(folder, HandOff(spool=spool, provenance=tmp_path / "s"))
    assert [path.name for path in recovered] == ["e-0.arc"]
    assert spool.names("new") == ["e-0.arc"]
    assert list(folder.iterdir()) == []


def test_a_note_held_by_a_live_hand_off_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    writer = _sealed_in_place(folder, "e-0.arc")
    (folder / "e-0.arc.open").rename(folder / "e-0.arc")  # renamed, not handed on yet
    note = SealNote(
        archive=writer.archive_id.hex, source="e-0.arc.open", final="e-0.arc", records=1,
        size=(folder / "e-0.arc").stat().st_size, checksum=None, compression=None,
    )  # fmt: skip
    held = HeldNote.write(note_path(folder, "e-0.arc"), note, durable_io=False)
    spool = Spool(tmp_path / "outbox").prepare()
    handoff = HandOff(spool=spool)
    assert recover_directory(folder, handoff) == []
    assert spool.names("new") == [] and (folder / "e-0.arc").exists()
    held.release()  # its process died: the next recovery finishes the hand-off
    assert [path.name for path in recover_directory(folder, handoff)] == ["e-0.arc"]
    assert spool.names("new") == ["e-0.arc"]
    assert list(folder.iterdir()) == []
