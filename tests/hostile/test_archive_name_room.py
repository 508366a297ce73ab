"""Archive names too long for the files the writer makes of them.

A name template was checked only against the file system's 255 bytes, but the
writer makes longer names of every name it renders: ``NAME.open`` while it
writes, the hand-off note ``.NAME.handoff`` and ``NAME.zst.open`` while it
seals, ``NAME-1.ext`` when the name is taken.  A name of 239 to 255 bytes
passed the start, then the first event failed with a raw ``[Errno 36] File
name too long`` (exit 1) and nothing was stored; with ``--spool``, a name
longer than the 238 bytes a spool keeps was never handed off (logged, the
archive stayed local).  ``ArchiveWriter`` used directly failed the same way.

Now the writer refuses a template at start (exit 3, before any input is read,
nothing made) unless its longest name, whatever the day, leaves room for all
of them — 242 bytes, fewer with a spool; a name that outgrows the room later
(a thousandth variant of a taken name) is refused before anything is written
under it, and the events written before are kept, sealed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.archive import ArchiveReader, ArchiveSet, ArchiveWriter, RollingWriter
from entrepot.archive.naming import MAX_RENDERED_BYTES, Template
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ConfigError, InvalidName
from entrepot.spool import MAX_SPOOL_NAME_BYTES, Spool

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))
EXT = ".events"


def entrepot(*args: object, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTREPOT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip


def name_of(width: int, letter: str = "a") -> str:
    """An archive name of ``width`` bytes."""
    return letter * (width - len(EXT)) + EXT


def events_in(*patterns: Path) -> list[object]:
    with ArchiveSet([str(p) for p in patterns]) as archives:
        return [record.payload for record in archives]


def test_the_limits_leave_room_for_every_name_the_writer_makes() -> None:
    # .NAME.handoff and NAME.zst.open add 9 bytes, NAME-999.ext 4 more: 255 in all.
    assert MAX_RENDERED_BYTES == 242
    assert MAX_SPOOL_NAME_BYTES == 238


@pytest.mark.parametrize("width", [243, 246, 247, 251, 255])
def test_a_name_too_long_for_the_writer_s_files_is_refused_before_any_input(
    tmp_path: Path, width: int
) -> None:
    folder = tmp_path / "arch"
    done = entrepot(
        "archive", "write", folder, "-t", name_of(width), "--state", tmp_path / "state",
        stdin='{"a":1}\n',
    )  # fmt: skip
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert f"makes names of {width} bytes" in done.stderr
    assert "the most is 242" in done.stderr and ".NAME.handoff" in done.stderr
    assert "Errno" not in done.stderr and "Traceback" not in done.stderr
    assert not folder.exists()  # nothing made for a command that cannot run


@pytest.mark.parametrize("compress", ["none", "zstd", "gzip"])
def test_the_longest_name_allowed_is_written_sealed_and_read_back(
    tmp_path: Path, compress: str
) -> None:
    folder = tmp_path / "arch"
    done = entrepot(
        "archive", "write", folder, "-t", name_of(242), "-z", compress,
        "--state", tmp_path / "state", stdin='{"a":1}\n{"a":2}\n',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (sealed,) = os.listdir(folder)
    assert sealed.startswith(name_of(242))
    assert events_in(folder / sealed) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("compress", "longest"),
    [("none", MAX_SPOOL_NAME_BYTES - 4), ("zstd", MAX_SPOOL_NAME_BYTES - 8)],
)
def test_with_a_spool_a_name_it_could_not_keep_is_refused_at_start(
    tmp_path: Path, compress: str, longest: int
) -> None:
    spool, folder = tmp_path / "outbox", tmp_path / "arch"
    Spool(spool).prepare()
    refused = entrepot(
        "archive", "write", folder, "-t", name_of(longest + 1, "b"), "--spool", spool,
        "-z", compress, stdin='{"a":1}\n',
    )  # fmt: skip
    assert refused.returncode == ExitCode.CONFIG, refused.stderr
    assert f"the most is {longest}" in refused.stderr and "spool" in refused.stderr
    assert "238 bytes" in refused.stderr
    assert not folder.exists() and os.listdir(spool / "new") == []

    done = entrepot(
        "archive", "write", folder, "-t", name_of(longest, "c"), "--spool", spool,
        "-z", compress, stdin='{"a":1}\n',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert os.listdir(folder) == []  # handed off, not left behind
    (handed,) = os.listdir(spool / "new")
    assert events_in(spool / "new" / handed) == [{"a": 1}]
    claim = Spool(spool).claim()  # a name the spool keeps can be claimed (and shipped)
    assert claim is not None
    claim.release()


def test_a_variant_past_the_room_is_refused_and_earlier_events_are_kept(tmp_path: Path) -> None:
    """A name taken by earlier archives 999 times: the thousandth variant is one byte
    too long; the event that would open it is refused, the one before stays sealed."""
    folder = tmp_path / "arch"
    folder.mkdir()
    name = name_of(242)
    stem = name.removesuffix(EXT)
    (folder / name).touch()
    for number in range(1, 999):
        (folder / f"{stem}-{number}{EXT}").touch()
    done = entrepot(
        "archive", "write", folder, "-t", name, "--max-records", "1",
        "--state", tmp_path / "state", stdin='{"n":1}\n{"n":2}\n{"n":3}\n',
    )  # fmt: skip
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "line 2 is not stored" in done.stderr and "nothing was written under it" in done.stderr
    assert "Errno" not in done.stderr and "Traceback" not in done.stderr
    assert events_in(folder / f"{stem}-999{EXT}") == [{"n": 1}]
    assert not [each for each in os.listdir(folder) if each.startswith(".") or "open" in each]


def test_the_library_writer_refuses_a_long_name_before_making_anything(tmp_path: Path) -> None:
    folder = tmp_path / "arch"
    with pytest.raises(ConfigError, match="makes names of 243 bytes"):
        RollingWriter(folder, name_of(243))
    with pytest.raises(ConfigError, match="spool"):
        RollingWriter(folder, name_of(MAX_SPOOL_NAME_BYTES - 3), spool=tmp_path / "outbox")
    assert not folder.exists() and not (tmp_path / "outbox").exists()
    with RollingWriter(folder, name_of(242), compression="zstd") as writer:
        writer.write({}, b"kept")
    assert events_in(*writer.finished) == [b"kept"]


def test_a_template_is_checked_at_its_widest_whatever_the_day() -> None:
    """%B is "May" in May but "September" in September: the check does not depend on
    the day the writer starts."""
    fits = "x" * (242 - len("September") - len(EXT)) + "%B" + EXT
    assert len(Template(fits).widest(0)) == 242
    with pytest.raises(ConfigError, match="makes names of 243 bytes"):
        Template("x" + fits)
    with pytest.raises(ConfigError, match="makes names of 243 bytes"):
        Template("y" * (243 - len("-0000") - len(EXT)) + "-{seq:04d}" + EXT)


def test_archive_writer_refuses_names_no_file_system_takes(tmp_path: Path) -> None:
    with pytest.raises(InvalidName, match="longer than 255 bytes"):
        ArchiveWriter(tmp_path / name_of(251))  # its open file would have 256
    assert os.listdir(tmp_path) == []

    writer = ArchiveWriter(tmp_path / name_of(250))
    writer.write({}, b"one")
    with pytest.raises(InvalidName, match="longer than 255 bytes"):
        writer.seal(tmp_path / name_of(256))
    writer.write({}, b"two")  # refused before it was finished: still open for records
    sealed = writer.seal()
    assert [record.payload for record in ArchiveReader(sealed)] == [b"one", b"two"]
