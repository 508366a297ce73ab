"""The provenance journal, and the receipts file puts share, on a full disk: a clear
error, and no line lost.

The journal's lines are copied through a memory map; a page of a mapped
file that the disk cannot hold would kill the process with SIGBUS when it
is first written.  So the journal writes each new stretch with zeros
before mapping it: on a full disk that write fails with ENOSPC, and
the line is refused with an error (the file is not claimed, the transfer
does not happen).  The disk is a real 2 MiB tmpfs, as for the archives.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.provenance.journal import JOURNAL_DIR, Journal, event_row
from entrepot.provenance.journal_lines import read_journal
from entrepot.provenance.shared import SHARED, SharedJournal
from tests.hostile.test_archive_full_disk import Disk, disk

__all__ = ["disk"]  # the fixture, used by name

FILL_THEN_KILL = """
import errno, os, signal, sys
from entrepot.provenance.journal import Journal, event_row
journal = Journal(sys.argv[1])
written = 0
try:
    while True:
        row = event_row("received", "/srv/out", f"f{written + 1:06}.csv", size=1, details="{}")
        journal.append((row,))
        written += 1
except OSError as exc:
    assert exc.errno == errno.ENOSPC, exc
print(written, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _names(path: Path) -> list[str]:
    with path.open("rb") as lines:
        return [entry.row[3] for entry in read_journal(lines)]


def test_a_full_disk_refuses_a_line_with_enospc_and_keeps_the_others(disk: Disk) -> None:
    journal = Journal(disk.path / "state")
    first = event_row("received", "/srv/out", "a.csv", size=1, details="{}")
    journal.append((first,))  # its first 64 KiB written
    disk.fill()
    # Lines go on into the written stretch; the one that needs more is refused.
    written = 1
    with pytest.raises(OSError) as refused:
        while written < 100_000:
            journal.append((event_row("received", "/srv/out", f"{written}.csv", details="{}"),))
            written += 1
    assert refused.value.errno == errno.ENOSPC
    assert 300 < written < 100_000  # about 64 KiB of lines
    names = _names(journal.path)
    assert names == ["a.csv", *[f"{n}.csv" for n in range(1, written)]]
    # Space back: the journal grows again and nothing was lost meanwhile.
    disk.free()
    journal.append((event_row("received", "/srv/out", "b.csv", details="{}"),))
    assert _names(journal.path)[-2:] == [f"{written - 1}.csv", "b.csv"]
    journal.close(remove=False)
    assert _names(journal.path) == [*names, "b.csv"]


def test_a_writer_that_met_a_full_disk_then_was_killed_leaves_every_line(disk: Disk) -> None:
    disk.fill()
    disk.filler.write_bytes(b"\0" * 512 * 1024)  # room for the first stretches only
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    state = disk.path / "state"
    child = subprocess.run(
        [sys.executable, "-c", FILL_THEN_KILL, str(state)], env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr  # not SIGBUS: the refusal was an error
    written = int(child.stdout)
    assert written > 1000
    (left,) = (state / JOURNAL_DIR).iterdir()
    assert _names(left) == [f"f{n:06}.csv" for n in range(1, written + 1)]


def test_the_shared_receipts_file_on_a_full_disk_refuses_a_line_and_keeps_the_others(
    disk: Disk,
) -> None:
    writer = SharedJournal(disk.path / "state")
    writer.append([event_row("received", "/srv/out", "a.csv", size=1, details="{}")])
    disk.fill()
    written = ["a.csv"]
    with pytest.raises(OSError) as refused:
        while len(written) < 100_000:  # into the last page's room, then refused
            name = f"{len(written)}.csv"
            writer.append([event_row("received", "/srv/out", name, details="{}")])
            written.append(name)
    assert refused.value.errno == errno.ENOSPC
    disk.free()
    # The refused line may be in part on the disk: the next one is read all the same.
    writer.append([event_row("received", "/srv/out", "b.csv", details="{}")])
    writer.close()
    assert _names(disk.path / "state" / JOURNAL_DIR / SHARED) == [*written, "b.csv"]
