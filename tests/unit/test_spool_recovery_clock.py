"""Recovery ages claims by the file system's clock, not by the recovering host's own.

A claim's age was its change time (stamped by the file system: on a spool
shared over NFS, by the server's clock) taken from the recovering process's
own clock.  A host whose clock was 16 minutes ahead took back every claim at
once — files still being shipped, which were then delivered twice — and one
whose clock was behind never took back a claim left by a shipper of another
host.  Now recovery asks the file system for the time (the change time of a
file it makes in ``tmp/`` for that), logs ``spool.clock_skew`` when the own
clock is more than a minute off, and ages claims and ``tmp/`` files by it.
Claims of a holder of this host that died still come back at once.

The recovering process runs with its wall clock shifted (``time.time`` moved
before anything is imported, as on a host whose clock is wrong); the file
system's clock stays the real one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.processes import host_tag
from entrepot.spool import Spool

SKEWED_RECOVERY = """
import json, logging, sys, time
shift = float(sys.argv[2])
real, real_ns = time.time, time.time_ns
time.time = lambda: real() + shift
time.time_ns = lambda: real_ns() + int(shift * 1e9)
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from entrepot.spool import Spool
lease = None if sys.argv[3] == "-" else float(sys.argv[3])
report = Spool(sys.argv[1]).recover(lease=lease)
print(json.dumps({"claims": report.claims_released, "tmp": report.tmp_removed}))
"""


def recover_skewed(
    root: Path, shift: float, lease: float | None = None
) -> tuple[dict[str, list[str]], str]:
    """What ``recover()`` gives back in a process whose clock is ``shift`` seconds off;
    with what it logged."""
    done = subprocess.run(
        [sys.executable, "-c", SKEWED_RECOVERY, str(root), str(shift), str(lease or "-")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool").prepare()


@pytest.mark.parametrize("shift", [16 * 60, 40 * 3600], ids=["16-minutes", "40-hours"])
def test_a_host_whose_clock_is_ahead_takes_back_no_fresh_claim(spool: Spool, shift: int) -> None:
    spool.publish_bytes(b"on its way", "big.csv")
    held = spool.claim("big.csv")
    assert held is not None
    (spool.root / "tmp" / "being-written").write_bytes(b"half")
    report, logged = recover_skewed(spool.root, shift)
    assert report == {"claims": [], "tmp": []}
    assert "spool.clock_skew" in logged
    assert spool.names("tmp") == ["being-written"]  # the probe file is gone
    held.done()
    assert spool.names("cur") == ["big.csv"]


def test_a_correct_clock_logs_no_skew(spool: Spool) -> None:
    report, logged = recover_skewed(spool.root, 0)
    assert report == {"claims": [], "tmp": []}
    assert "spool.clock_skew" not in logged


def test_a_claim_from_another_host_comes_back_after_the_lease_by_file_system_time(
    spool: Spool,
) -> None:
    spool.publish_bytes(b"x", "left.csv")
    claim = spool.claim("left.csv")
    assert claim is not None
    # The same file as held by a process of another host (another host tag).
    foreign = f"{host_tag() ^ 0x5A5A:04x}{12345:08x}{0:04x}-left.csv"
    os.rename(claim.path, spool.root / "claimed" / foreign)
    lease = 0.5
    # A clock 16 minutes behind: on its own clock, the claim is not even made yet.
    report, _ = recover_skewed(spool.root, -16 * 60, lease)
    assert report["claims"] == []  # the lease has not run out
    time.sleep(lease + 0.1)
    report, logged = recover_skewed(spool.root, -16 * 60, lease)
    assert report["claims"] == ["left.csv"]
    assert "spool.clock_skew" in logged
    assert spool.names() == ["left.csv"]


def test_a_claim_whose_holder_died_comes_back_at_once(spool: Spool) -> None:
    spool.publish_bytes(b"x", "orphan.csv")
    code = "import sys; from entrepot.spool import Spool; print(Spool(sys.argv[1]).claim().id)"
    subprocess.run([sys.executable, "-c", code, str(spool.root)], check=True)
    # Default lease, 15 minutes; a clock behind by as much changes nothing.
    report, _ = recover_skewed(spool.root, -16 * 60)
    assert report["claims"] == ["orphan.csv"]
    assert spool.names() == ["orphan.csv"]


def test_a_spool_without_tmp_is_recovered_by_the_own_clock(spool: Spool) -> None:
    """No file can be made to ask the file system for the time: recovery goes on."""
    spool.publish_bytes(b"x", "f.csv")
    assert spool.claim("f.csv") is not None
    (spool.root / "tmp").rmdir()
    assert Spool(spool.root).recover().claims_released == []  # fresh by the own clock too
    assert Spool(spool.root, lease=0).recover().claims_released == ["f.csv"]
