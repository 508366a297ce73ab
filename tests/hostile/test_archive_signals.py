"""Stopping archive commands with SIGTERM or Ctrl-C (issue 10, item 1, the archive part).

``entrepot archive write`` stopped by either signal writes every line it
had already read, seals and hands on the archive, and exits 143 (SIGTERM)
or 130 (SIGINT); the archive then holds exactly the lines it took from its
input, in order, once each.  A long ``archive cat`` stops with 143 too.
Each command runs as a subprocess, as a service manager would run it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.archive import ArchiveSet, RollingWriter

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))
STOPS = [(signal.SIGTERM, 143), (signal.SIGINT, 130)]


def start(*args: object, **options: object) -> subprocess.Popen[bytes]:
    # A test runner may ignore SIGINT; the command must get it as a user's Ctrl-C would.
    return subprocess.Popen(
        [ENTREPOT, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **options,  # type: ignore[call-overload]
    )


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def numbers(folder: Path) -> list[int]:
    return [record.payload["n"] for record in ArchiveSet(str(folder / "*"))]


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_stopped_writer_seals_the_events_it_read(tmp_path: Path, signum: int, code: int):
    process = start("archive", "write", tmp_path, "-z", "zstd", "-t", "ev-{seq}.events",
                    stdin=subprocess.PIPE)  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(b'{"n": 0}\n{"n": 1}\n{"n": 2}\n')
    process.stdin.flush()
    # The archive is opened by the first event; the three lines arrived together.
    wait_for(lambda: (tmp_path / "ev-0.events.open").exists(), "no event was read")
    process.send_signal(signum)
    assert process.wait(timeout=30) == code
    _, errors = process.communicate()
    assert [p.name for p in tmp_path.iterdir()] == ["ev-0.events.zst"], errors
    assert numbers(tmp_path) == [0, 1, 2]
    process.stdin.close()


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_writer_stopped_mid_stream_keeps_exactly_the_lines_it_took(
    tmp_path: Path, signum: int, code: int
):
    source = tmp_path / "events.jsonl"
    pad = "x" * 60
    source.write_text("".join(f'{{"n": {n}, "pad": "{pad}"}}\n' for n in range(400_000)))
    folder = tmp_path / "archives"
    # The command reads a regular file that this process opened: the two share the file
    # offset, so afterwards it tells exactly how much input the command took.
    with open(source, "rb") as stdin:
        process = start("archive", "write", folder, "--max-records", "5000", stdin=stdin)
        wait_for(lambda: len(list(folder.glob("*.events"))) >= 3, "no archive was rolled")
        process.send_signal(signum)
        assert process.wait(timeout=60) == code
        process.communicate()
        taken = os.lseek(stdin.fileno(), 0, os.SEEK_CUR)
    assert 0 < taken < source.stat().st_size, "the command was not stopped mid-stream"
    lines_taken = source.read_bytes()[:taken].count(b"\n")
    assert numbers(folder) == list(range(lines_taken))
    assert not list(folder.glob("*.open"))


def test_a_long_cat_stops_on_sigterm(tmp_path: Path):
    with RollingWriter(tmp_path, "big.events") as writer:
        for number in range(200_000):
            writer.write({}, {"n": number})
    process = start("archive", "cat", tmp_path / "big.events")
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["payload"] == {"n": 0}
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 143, errors
    assert b"Traceback" not in errors
