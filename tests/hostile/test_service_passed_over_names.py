"""A file in ``new/`` that no run can ship does not make the service record a run per scan.

What was wrong: a file put into ``new/`` by another program under a name no
spool entry may have (here bytes that are not UTF-8) was passed over by each
run, but still counted as waiting: every periodic scan started a run that
recorded a new "succeeded" job and logged the same warning — 2,880 jobs a
day per route at a 30 s scan.  Now a run started by a scan, a timer or an
arrival does not start when the only files waiting are ones the last run
passed over, unchanged; the service says so once (``service.files_passed_over``)
and the metric ``entrepot_skipped_files`` keeps showing them.  A new file
is shipped as before, and ``entrepot ship`` still reports the name every
time (exit 7).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from entrepot.jobs import Ledger
from entrepot.spool import Spool
from tests.integration._service import Service, one_route_service, service_json, services_fixture  # noqa: F401
from tests.servers._common import wait_until

TOKEN = "a-token-of-the-scraper-0123456789"
#: The service's settings: a scan every second, the endpoint with its token.
SERVICE = 'grace = "5s"\nscan_every = "1s"\nlisten = "127.0.0.1:0"\ntoken_file = "token"\n'


def test_a_name_no_run_can_ship_is_recorded_once_not_at_every_scan(
    tmp_path: Path, services: list[Service]
) -> None:
    dest = tmp_path / "dest"
    service = one_route_service(tmp_path, services, state="state", service=SERVICE, token=TOKEN)
    service.start()
    new = tmp_path / "out" / "new"
    with open(os.path.join(os.fsencode(new), b"bad\xff.csv"), "wb") as handle:
        handle.write(b"y\n")
    time.sleep(6)  # six scans

    with Ledger.open(tmp_path / "state") as ledger:
        assert len(ledger.jobs(kind="ship")) == 1  # the first run, not one per scan
    log = service.log()
    assert log.count("service.files_passed_over") == 1
    assert log.count("ship.name_skipped") == 1
    state = service_json(tmp_path / "state")
    assert state is not None
    metrics = httpx.get(
        f"{state['listen']}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    ).text
    (skipped,) = [line for line in metrics.splitlines() if line.startswith("entrepot_skipped")]
    assert 'name="r"' in skipped and skipped.endswith(" 1.0")

    # A file that can go goes, at once; the name is passed over once more.
    Spool(tmp_path / "out").publish_bytes(b"ok", "good.csv")
    wait_until((dest / "good.csv").exists, timeout=10, what="the good file")
    time.sleep(3)
    with Ledger.open(tmp_path / "state") as ledger:
        assert len(ledger.jobs(kind="ship")) == 2
    assert service.log().count("ship.name_skipped") == 2
    assert service.stop() == 0

    # The command run by hand reports it every time.
    for _ in range(2):
        ran = subprocess.run(
            [sys.executable, "-m", "entrepot", "ship", "r", "--config", "entrepot.toml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 7, ran.stderr
