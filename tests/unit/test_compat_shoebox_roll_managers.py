"""The shoebox facade's roll managers and checkers, held to what shoebox's own code does.

Three things differed from stacktach-shoebox (``roll_manager.py``,
``roll_checker.py``): a bare ``SizeRollChecker()`` rolled at 1000 MB where
shoebox rolls at 1 MB; archives were read oldest first by their creation
time where shoebox reads them in the order of their names; and a write after
``close()`` raised ArchiveClosed where shoebox simply starts a new archive.
Each now behaves as shoebox does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from entrepot.compat.shoebox import (
    ArchiveCallback,
    NeverRollChecker,
    ReadingRollManager,
    SizeRollChecker,
    WritingRollManager,
    roll_checker,
)
from entrepot.compat.shoebox_checkers import MEGABYTE
from tests.unit.test_compat_shoebox import read_all


def write_one(directory: Path, template: str, payload: str) -> None:
    writer = WritingRollManager(template, NeverRollChecker(), directory=str(directory))
    writer.write({"file": payload}, payload)
    writer.close()


def test_a_size_checker_given_no_size_rolls_at_one_megabyte(tmp_path: Path) -> None:
    """shoebox's SizeRollChecker reads ``roll_size_mb`` from its keywords and
    takes 1 when it is not there: an archive rolls once it holds a megabyte."""
    assert roll_checker.SizeRollChecker().roll_size_mb == 1
    writer = WritingRollManager("big-{seq:02d}.events", SizeRollChecker(), str(tmp_path))
    half = "x" * (MEGABYTE // 2 + 1)
    writer.write({}, half)
    assert writer.finished == []
    writer.write({}, half)  # past one megabyte: rolled before close()
    assert len(writer.finished) == 1
    writer.close()


def test_archives_are_read_in_the_order_of_their_names(tmp_path: Path) -> None:
    """shoebox lists the folder, keeps the names the template matches and reads
    them sorted: ``a.events`` before ``b.events`` whichever was written first."""
    write_one(tmp_path, "b.events", "written first")
    write_one(tmp_path, "a.events", "written second")
    reader = ReadingRollManager("*.events", directory=str(tmp_path))
    assert [path.name for path in reader.files] == ["a.events", "b.events"]
    assert [payload for _, payload in read_all(reader)] == ["written second", "written first"]


def test_names_taken_before_are_read_in_the_order_they_were_written(tmp_path: Path) -> None:
    """shoebox would have written each archive over the one before under the same
    name; here each gets ``name-N.events`` and they are read back as written."""
    for index in range(12):
        write_one(tmp_path, "same.events", str(index))
    reader = ReadingRollManager("same*.events", directory=str(tmp_path))
    assert [path.name for path in reader.files] == ["same.events"] + [
        f"same-{n}.events" for n in range(1, 12)
    ]
    assert [payload for _, payload in read_all(reader)] == [str(i) for i in range(12)]


def test_a_name_that_only_looks_like_a_variant_keeps_its_place(tmp_path: Path) -> None:
    """Without ``x.events`` beside it, ``x-2.events`` is a name like any other."""
    for name in ("x-2.events", "x-10.events", "w.events"):
        write_one(tmp_path, name, name)
    reader = ReadingRollManager("*.events", directory=str(tmp_path))
    assert [path.name for path in reader.files] == ["w.events", "x-10.events", "x-2.events"]


class Opened(ArchiveCallback):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.opened: list[str] = []

    def on_open(self, filename: str) -> None:
        self.opened.append(filename)


def test_a_write_after_close_starts_a_new_archive(tmp_path: Path) -> None:
    """shoebox's close() ends the archive being written and forgets it; the next
    write() opens a new archive, as the first one did."""
    callback = Opened()
    writer = WritingRollManager("w-{seq}.events", NeverRollChecker(), str(tmp_path), callback)
    writer.write({"n": "0"}, "before")
    writer.close()
    writer.write({"n": "1"}, "after")
    writer.close()
    writer.close()  # nothing open: nothing happens, as in shoebox
    assert [path.name for path in writer.finished] == ["w-0.events", "w-1.events"]
    assert len(callback.opened) == 2
    reader = ReadingRollManager("w-*.events", directory=str(tmp_path))
    assert read_all(reader) == [({"n": "0"}, "before"), ({"n": "1"}, "after")]
