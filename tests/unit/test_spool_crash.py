"""A producer killed with SIGKILL at random moments never leaves a partial file visible."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.interrupts import Terminated
from entrepot.spool import Spool
from entrepot.spool.areas import open_entry

KILLS = 50

# The child publishes files whose last line is the SHA-256 of the rest, in
# every way the spool offers, and claims some of them, forever.
CHILD = r"""
import hashlib, os, random, sys
from entrepot.spool import Spool

spool = Spool(sys.argv[1], lease=0).prepare()

def body():
    data = os.urandom(random.randrange(1, 64 * 1024))
    return data + b"\n" + hashlib.sha256(data).hexdigest().encode()

print("ready", flush=True)
while True:
    kind = random.randrange(5)
    if kind == 0:
        spool.publish_bytes(body())
    elif kind == 1:
        with spool.writer() as handle:
            data = body()
            for start in range(0, len(data), 4096):
                handle.write(data[start:start + 4096])
    elif kind == 2:
        with spool.batch() as batch:
            for _ in range(5):
                batch.add_bytes(body())
    elif kind == 3:
        claim = spool.claim()
        if claim is not None:
            claim.release()
    else:
        claim = spool.claim()
        if claim is not None:
            claim.done()
"""


def intact(path: Path) -> bool:
    data, _, digest = path.read_bytes().rpartition(b"\n")
    return hashlib.sha256(data).hexdigest().encode() == digest


@pytest.mark.slow
def test_sigkill_never_exposes_a_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    rng = random.Random(20261123)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL

    spool = Spool(root)
    visible = spool.list("new") + spool.list("cur")
    assert visible, "the child never published anything"
    damaged = [entry.name for entry in visible if not intact(entry.path)]
    assert damaged == []

    # Claims the child held when it died go back to new/ intact; tmp/ is emptied.
    held = spool.held_claims()
    report = spool.recover(stale_tmp_age=0, lease=0)
    assert sorted(report.claims_released) == sorted(claim.name for claim in held)
    assert spool.names("tmp") == []
    assert spool.names("claimed") == []
    assert all(intact(entry.path) for entry in spool.list("new"))


def test_a_signal_while_a_spool_file_is_opened_is_not_turned_into_another_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (raised as an exception) while the file object is made: ``io.open``
    closes the descriptor it was given before the exception goes on.  The exception
    must reach the caller as it is — a second close would fail with "bad file
    descriptor" (the command's exit 1 instead of 143), or close another thread's file."""
    source = tmp_path / "export.csv"
    source.write_bytes(b"a,b\n")
    real = os.fdopen

    def interrupted(fd: int, *args: object, **kwargs: object) -> object:
        real(fd, "rb").close()  # what io.open does with its file on the way out
        raise Terminated("SIGTERM")

    monkeypatch.setattr(os, "fdopen", interrupted)
    with pytest.raises(Terminated):
        open_entry(source)
