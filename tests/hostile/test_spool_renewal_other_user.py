"""A shipper renews its claims on files another user wrote.

A claim was renewed by setting the claimed file's times to their own
values, which moves its change time (the lease clock).  Setting times
explicitly is for the file's owner alone: a shipper running as another user
than the producer (the producer writes, the shipper ships, the spool's
folders writable by both) got "Operation not permitted" at every renewal,
only logged ``spool.claim_renewal_failed``, and the claim was taken back by
the next recovery after its lease — the file was shipped twice.

Now a renewal that may not touch the file renews a marker of its own in
``claimed/`` instead (``.renew-TOKEN``), which recovery reads as the claim's
age too; the marker goes when the claim ends.  The shipper side runs as
``nobody`` in a subprocess, on a spool whose files belong to root and are
not writable by it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrepot.spool import Spool

NOBODY = 65534
LEASE = 0.8

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run a shipper as nobody"
)

# The shipper drops to nobody once its modules are loaded: the interpreter may live
# where nobody cannot read (a root-only home).
SHIPPER = """
import os, sys, time
from entrepot.spool import Spool
os.setgroups([])
os.setgid(int(sys.argv[3]))
os.setuid(int(sys.argv[3]))
spool = Spool(sys.argv[1], lease=float(sys.argv[2]))
claim = spool.claim("a.csv")
with spool.renewer() as renewer:
    renewer.hold(claim)
    print("claimed", flush=True)
    time.sleep(float(sys.argv[2]) * 3)
    renewer.drop(claim)
    markers = sorted(n for n in os.listdir(spool.area("claimed")) if n.startswith("."))
    print("markers", markers, flush=True)
    claim.done()
print("done", flush=True)
"""


@pytest.fixture
def shared_spool() -> Iterator[Spool]:
    """A spool whose folders anyone may write and whose file root owns (mode 0644)."""
    base = Path(tempfile.mkdtemp(prefix="spool-shared-", dir="/tmp"))
    try:
        base.chmod(0o755)
        spool = Spool(base / "sp", lease=LEASE).prepare()
        spool.publish_bytes(b"x", "a.csv")
        spool.areas.ensure("claimed")
        for area in ("tmp", "new", "cur", "claimed"):
            spool.area(area).chmod(0o777)
        spool.path("new", "a.csv").chmod(0o644)
        yield spool
    finally:
        shutil.rmtree(base)


def test_a_shipper_that_does_not_own_the_file_keeps_its_claim(shared_spool: Spool) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SHIPPER, str(shared_spool.root), str(LEASE), str(NOBODY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as shipper:
        assert shipper.stdout is not None
        assert shipper.stdout.readline() == "claimed\n"
        time.sleep(LEASE * 2)
        # Another shipper (here root) recovers: the claim at work is not taken back.
        released = shared_spool.recover().claims_released
        out, err = shipper.communicate(timeout=30)
    assert released == []
    assert shipper.returncode == 0, err
    assert "claim_renewal_failed" not in err
    assert "markers ['.renew-" in out and out.endswith("done\n")
    assert shared_spool.names("cur") == ["a.csv"]
    # The marker ended with its claim.
    assert os.listdir(shared_spool.area("claimed")) == []


def test_a_marker_left_by_a_claim_that_ended_is_swept(shared_spool: Spool) -> None:
    claim = shared_spool.claim("a.csv")
    assert claim is not None
    marker = shared_spool.area("claimed") / f".renew-{claim.token}"
    marker.touch()
    # The claim is recovered (its holder is alive, its lease is not out: lease 0).
    assert shared_spool.recover(lease=0).claims_released == ["a.csv"]
    assert not marker.exists()
    orphan = shared_spool.area("claimed") / ".renew-0000000000000000"
    orphan.touch()
    shared_spool.recover(lease=0)
    assert os.listdir(shared_spool.area("claimed")) == []
