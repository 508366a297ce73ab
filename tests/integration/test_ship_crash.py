"""A shipper killed with SIGKILL at random moments loses and duplicates nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.ship import ShipOptions, Shipper
from entrepot.spool import Spool

pytestmark = [pytest.mark.server, pytest.mark.slow]

FILES = 500
KILLS = 20

CHILD = r"""
import os, sys
from entrepot.ship import Shipper, ShipOptions

shipper = Shipper(
    sys.argv[1],
    sys.argv[2],
    # Default lease: the claims of a killed shipper come back because it is dead.
    options=ShipOptions(parallel=2),
    target_options={"password_env": "SHIP_PASSWORD", "timeout": 10},
)
print("ready", flush=True)
shipper.run()
print("finished", flush=True)
"""


def test_shipper_killed_at_random_points(ftp_server: Any, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    expected = {}
    with spool.batch() as batch:
        for number in range(FILES):
            data = os.urandom(random.randrange(100, 4000))
            expected[batch.add_bytes(data, f"part-{number:04d}.bin")] = data
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SHIP_PASSWORD": ftp_server.password,
    }
    rng = random.Random(1123)
    kills = 0
    for _ in range(KILLS * 3):
        if kills == KILLS or (not spool.names("new") and not spool.names("claimed")):
            break
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(spool.root), ftp_server.url],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.06))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
        child.stdout.close()
    assert kills == KILLS, "the shipper finished too fast to be killed often enough"

    # A last, undisturbed run delivers whatever is left and sweeps the temporary
    # uploads the killed runs left behind.
    report = Shipper(
        spool,
        ftp_server.url,
        options=ShipOptions(sweep_partials_after=0),
        target_options=ftp_server.options,
    ).run()
    assert report.ok
    assert sorted(os.listdir(ftp_server.root)) == sorted(expected)
    for name, data in expected.items():
        assert (ftp_server.root / name).read_bytes() == data
    assert spool.names("new") == [] and spool.names("claimed") == []
    assert sorted(spool.names("cur")) == sorted(expected)
