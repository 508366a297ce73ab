"""A writer killed with SIGKILL mid-stream loses nothing it flushed and duplicates nothing.

A child interpreter appends numbered events to a rolling series (small files,
so kills land while writing, sealing and compressing), calls ``flush()``
now and then and, after each flush returns, notes the last flushed number
in a side file.  The parent kills it at a random moment, starts the next
writer (which recovers the abandoned file), and after all the kills reads
every archive: each flushed number must be there exactly once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from entrepot.archive import ArchiveSet, RollingWriter

KILLS = 30
TEMPLATE = "crash-{seq:05d}.events"


# The child: a separate interpreter, so the kill hits a real, independent writer.
CHILD = """
import sys
from pathlib import Path
from entrepot.archive import CountPolicy, RollingWriter, SizePolicy

directory, side, number, compression = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
writer = RollingWriter(directory, sys.argv[5], policy=CountPolicy(23) | SizePolicy(4_000),
                       compression=None if compression == "none" else compression)
with open(side, "a", buffering=1) as note:
    while True:
        writer.write({"n": str(number)}, {"number": number, "pad": "x" * (number % 97)})
        if number % 5 == 0:
            writer.flush()
            note.write(f"{number}\\n")
        number += 1
"""


def _run_child(
    directory: Path, side: Path, first: int, compression: str | None
) -> subprocess.Popen[bytes]:
    args = [str(directory), str(side), str(first), compression or "none", TEMPLATE]
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], stderr=subprocess.PIPE)


def _flushed(side: Path) -> set[int]:
    text = side.read_text() if side.exists() else ""
    # A line cut by the kill has no newline yet; it promised nothing.
    complete = text[: text.rfind("\n") + 1]
    flushed: set[int] = set()
    for line in complete.splitlines():
        last = int(line)
        flushed.update(range(last - 4, last + 1))
    return flushed


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_flushed_record_survives_sigkill_exactly_once(tmp_path: Path):
    rng = random.Random(4242)
    directory = tmp_path / "archives"
    side = tmp_path / "flushed.txt"
    for kill in range(KILLS):
        compression = ("zstd", None, "gzip")[kill % 3]
        before = side.stat().st_size if side.exists() else 0
        child = _run_child(directory, side, first=kill * 1_000_000 + 1, compression=compression)
        # Wait for some progress (a random amount), then kill without warning.
        target = before + rng.randint(1, 400)
        deadline = time.monotonic() + 60
        while (side.stat().st_size if side.exists() else 0) < target:
            if child.poll() is not None:
                pytest.fail(f"the writer died: {child.stderr.read().decode()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.001)
        time.sleep(rng.random() * 0.01)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        child.stderr.close()  # type: ignore[union-attr]
    # A last writer recovers whatever the final kill left open.
    RollingWriter(directory, TEMPLATE).close()
    assert not list(directory.glob("*.open"))

    flushed = _flushed(side)
    assert len(flushed) > KILLS * 5
    counts = Counter(int(record.metadata["n"]) for record in ArchiveSet(str(directory / "crash-*")))
    duplicated = [number for number, seen in counts.items() if seen > 1]
    missing = sorted(flushed - set(counts))
    assert not duplicated, f"records present twice: {duplicated[:10]}"
    assert not missing, f"flushed records lost: {missing[:10]}"
    # Every archive is complete and checks out after recovery.
    from entrepot.archive import verify

    for path in directory.iterdir():
        assert verify(path).ok, path
