"""A state folder whose disk is full: the runs that crash before they are recorded are told.

What was wrong: with the state folder's disk full, every run of a route
crashed before the ledger could record it (``service.lane_failed`` at each
scan), yet ``/readyz`` answered 200 with the last outcome "succeeded" and
the metrics showed no failed run: the ledger, which could not be written,
was all they read.  Now a run that crashes is kept in memory: ``/readyz``
answers 503 naming the lane, the route's last outcome is "crashed",
``entrepot_lane_failures_total`` counts the crashes and
``entrepot_lane_crashed`` is 1 until a run ends normally again — once space
is back, the waiting file is shipped and the service is ready again.

The full disk is a small tmpfs mounted under the test's folder, which needs
root (as in CI); elsewhere the test is skipped.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrepot.spool import Spool
from tests.integration._service import Service, one_route_service, service_json, services_fixture  # noqa: F401
from tests.servers._common import wait_until

TOKEN = "a-token-of-the-scraper-0123456789"
#: The service's settings: a scan every second, the endpoint with its token.
SERVICE = 'grace = "5s"\nscan_every = "1s"\nlisten = "127.0.0.1:0"\ntoken_file = "token"\n'


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs at ``tmp_path / "small"``, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
    return filler


def _get(state: dict[str, Any], path: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.get(f"{state['listen']}{path}", headers=auth, timeout=10)


def test_runs_that_crash_on_a_full_state_disk_make_the_service_unready(
    tmp_path: Path, small: Path, services: list[Service]
) -> None:
    dest = tmp_path / "dest"
    service = one_route_service(
        tmp_path, services, state="small/state", service=SERVICE, token=TOKEN
    )
    try:
        service.start()
        state = service_json(small / "state")
        assert state is not None
        spool = Spool(tmp_path / "out")
        spool.publish_bytes(b"1", "a1.csv")
        wait_until((dest / "a1.csv").exists, timeout=10, what="a1")
        assert _get(state, "/readyz").status_code == 200

        filler = _fill(small)
        spool.publish_bytes(b"2", "a2.csv")
        service.wait_for("service.lane_failed", timeout=20)
        ready = _get(state, "/readyz")
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["routes"]["r"]["last_outcome"] == "crashed"
        assert any(problem.startswith("route:r: ") for problem in body["problems"])
        metrics = _get(state, "/metrics").text
        crashes = [
            line
            for line in metrics.splitlines()
            if line.startswith("entrepot_lane_failures_total") and 'lane="route:r"' in line
        ]
        assert crashes and float(crashes[0].split()[-1]) >= 1
        assert not (dest / "a2.csv").exists()

        filler.unlink()  # space is back: the next scan ships the file, the service is ready
        wait_until((dest / "a2.csv").exists, timeout=20, what="a2 once space is back")
        wait_until(lambda: _get(state, "/readyz").status_code == 200, timeout=10, what="ready")
        assert 'entrepot_lane_crashed{instance="' in _get(state, "/metrics").text
    finally:
        service.close()
