"""An upload longer than the claim's lease keeps its claim: delivered once, not twice.

Nothing renewed a spool claim while its file was being uploaded.  An upload
longer than the lease (a big file over a slow link) was taken back by the
next shipper of the same spool — a second ``entrepot ship``, an overlapping
cron run — which delivered it a second time, and the first shipper then
failed with ClaimLost.  Now a shipper renews the claims it holds while their
files are on their way, so the second shipper finds nothing to take back;
the file is delivered once, by the first.

A real FTP server with a throttled data channel makes the upload last
several times the (short) lease given with ``--lease``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.spool import Spool
from tests.hostile._shipping import entrepot, listing, partials, slow_ftp
from tests.servers._common import wait_until
from tests.servers.ftp import PASSWORD as FTP_PASSWORD
from tests.servers.ftp import USER as FTP_USER

pytestmark = pytest.mark.server

LEASE = 1.0
RATE = 64 * 1024
SIZE = 6 * RATE  # six seconds on the wire: six leases


def test_a_second_shipper_does_not_take_back_an_upload_in_progress(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    data = os.urandom(SIZE)
    spool.publish_bytes(data, "big.bin")
    with slow_ftp(tmp_path / "ftp-root", RATE) as server:
        folder = server.root / "drop"
        folder.mkdir()
        url = f"ftp://{FTP_USER}@127.0.0.1:{server.port}/drop"
        args = [
            "ship", spool.root, url, "--password-env", "SHIP_PW", "--no-ledger",
            "--lease", f"{LEASE}s", "--max-tries", "1", "--json",
        ]  # fmt: skip
        env = {**os.environ, "SHIP_PW": FTP_PASSWORD}
        first = subprocess.Popen(
            [sys.executable, "-m", "entrepot", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            wait_until(lambda: bool(partials(folder)), timeout=60, what="the upload")
            time.sleep(LEASE * 1.5)  # unrenewed, the claim would have run out by now
            assert listing(spool.root / "claimed"), "the first upload ended too soon"
            second = entrepot(*args, env={"SHIP_PW": FTP_PASSWORD})
            out, err = first.communicate(timeout=120)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["files"] == []  # nothing taken from the first
    assert first.returncode == 0, err
    assert json.loads(out)["files"] == ["big.bin"]
    assert (folder / "big.bin").read_bytes() == data
    assert listing(folder) == ["big.bin"]
    assert spool.names("cur") == ["big.bin"]
    assert spool.names("new") == [] and listing(spool.root / "claimed") == []
