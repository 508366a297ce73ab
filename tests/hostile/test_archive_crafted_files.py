"""Files planted in an archive folder: a FIFO under an archive's name, a symbolic link to
an archive elsewhere, a record of JSON nested thousands deep, a hand-off note that names
files outside the folder.  The reading commands report each and read the others; nothing
hangs, nothing is followed out of the folder, nothing outside it is moved or deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from entrepot.archive import ArchiveReader, ArchiveSet, RollingWriter
from entrepot.archive import format as fmt
from entrepot.archive.series import peek_header

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))
READERS = ("cat", "ls", "verify", "stats")


def entrepot(
    *args: object, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTREPOT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=30,
        cwd=cwd, env={**os.environ, "COLUMNS": "300"},  # tables wide enough for whole names
    )  # fmt: skip


def good_archive(folder: Path, name: str = "good.events", records: int = 3) -> Path:
    with RollingWriter(folder, name) as writer:
        for number in range(records):
            writer.write({}, {"n": number})
    (path,) = writer.finished
    return path


@pytest.mark.parametrize("command", READERS)
def test_a_fifo_under_an_archive_name_is_reported_not_waited_on(
    tmp_path: Path, command: str
) -> None:
    good_archive(tmp_path)
    os.mkfifo(tmp_path / "x.events")  # nobody will ever write into it
    done = entrepot("archive", command, tmp_path)  # would hang for ever on open()
    if command == "ls":
        assert done.returncode == 0, done.stderr
        assert "good.events" in done.stdout and "x.events" not in done.stdout
    else:
        assert done.returncode == 7, done.stderr
        assert "x.events is not a regular file: not read" in done.stdout + done.stderr
    if command == "cat":
        assert [json.loads(line)["payload"]["n"] for line in done.stdout.splitlines()] == [0, 1, 2]


def test_the_library_reports_a_fifo_and_reads_the_rest(tmp_path: Path) -> None:
    good_archive(tmp_path)
    os.mkfifo(tmp_path / "x.events")
    with ArchiveSet(str(tmp_path / "*.events")) as archives:
        assert [record.payload["n"] for record in archives] == [0, 1, 2]
    [(path, damage)] = archives.damage
    assert path.name == "x.events" and "not a regular file" in damage.reason
    with pytest.raises(Exception, match="not a regular file"):
        ArchiveReader(tmp_path / "x.events")


def test_a_link_in_a_folder_is_not_followed_but_one_named_is(tmp_path: Path) -> None:
    elsewhere = good_archive(tmp_path / "elsewhere", "theirs.events", records=2)
    folder = tmp_path / "mine"
    good_archive(folder)
    (folder / "linked.events").symlink_to(elsewhere)

    cat = entrepot("archive", "cat", folder)
    assert cat.returncode == 7
    assert "linked.events is a symbolic link: not read" in cat.stderr
    assert len(cat.stdout.splitlines()) == 3  # its own archive only
    with ArchiveSet(str(folder / "*")) as archives:
        assert len(list(archives)) == 3
    assert "symbolic link" in archives.damage[0][1].reason

    named = entrepot("archive", "cat", folder / "linked.events")  # asked for by name
    assert named.returncode == 0, named.stderr
    assert len(named.stdout.splitlines()) == 2


@pytest.mark.parametrize("command", READERS)
def test_json_nested_thousands_deep_is_damage_and_the_next_file_is_read(
    tmp_path: Path, command: str
) -> None:
    deep = tmp_path / "a-deep.events"
    header = fmt.encode_header(0, 0, uuid.uuid4(), "w")
    record = fmt.frame(fmt.PAYLOAD_JSON, 0, b"", b"[" * 5000 + b"]" * 5000)
    deep.write_bytes(header + record + fmt.encode_seal(1, 0))
    good = good_archive(tmp_path / "more")

    done = entrepot("archive", command, deep, good)
    assert "Traceback" not in done.stderr
    if command == "ls":
        assert done.returncode == 0 and "good.events" in done.stdout
        return
    assert done.returncode == 7, done.stderr
    assert "JSON nested too deeply to decode" in done.stdout + done.stderr
    if command == "cat":
        assert len(done.stdout.splitlines()) == 3
    with ArchiveReader(deep) as reader:
        assert list(reader) == []
        assert "nested too deeply" in reader.damage[0].reason


def crafted_note(folder: Path, archive_id: str, **names: str) -> Path:
    note = folder / ".events-1T1-vm-0.events.handoff"
    fields = {"archive": archive_id, "source": "x.events.open", "final": "x.events",
              "records": 1, "size": 1, "checksum": None, "compression": None, **names}  # fmt: skip
    note.write_text(json.dumps(fields))
    return note


@pytest.mark.parametrize("field", ["final", "source"])
def test_a_hand_off_note_naming_a_file_outside_the_folder_touches_nothing(
    tmp_path: Path, field: str
) -> None:
    victim = good_archive(tmp_path / "victim", "keep.events")
    before = victim.read_bytes()
    archive_id = peek_header(victim).archive_id.hex  # type: ignore[union-attr]
    folder = tmp_path / "arch"
    folder.mkdir()
    if field == "final":  # would move the victim into the spool
        note = crafted_note(folder, archive_id, final="../victim/keep.events")
    else:  # would delete the victim as the note's "source"
        (folder / "x.events").write_bytes(before)
        note = crafted_note(folder, archive_id, source="../victim/keep.events")
    entrepot("spool", "init", tmp_path / "sp")

    done = entrepot("archive", "write", folder, "--spool", tmp_path / "sp", stdin='"new"\n')
    assert done.returncode == 0, done.stderr
    assert victim.read_bytes() == before
    assert os.listdir(tmp_path / "victim") == ["keep.events"]
    assert note.exists()  # left as it is, for an operator
    handed = sorted(os.listdir(tmp_path / "sp" / "new"))
    assert len(handed) == 1 and "keep" not in handed[0]  # only the new archive


@pytest.mark.parametrize("kind", ["fifo", "folder", "link"])
def test_a_note_that_is_no_file_is_passed_over_and_the_write_goes_on(
    tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "arch"
    folder.mkdir()
    note = folder / ".a-9.events.handoff"  # a note of this series (recovery looks at those)
    if kind == "fifo":
        os.mkfifo(note)
    elif kind == "folder":
        note.mkdir()
    else:
        note.symlink_to(tmp_path / "nowhere")
    done = entrepot("archive", "write", folder, "-t", "a-{seq}.events", stdin="1\n2\n")
    assert done.returncode == 0, done.stderr
    assert [r.payload for r in ArchiveSet(str(folder / "a-*"))] == [1, 2]
    assert os.path.lexists(note)
