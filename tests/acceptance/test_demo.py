"""``entrepot demo`` in a subprocess: the service's first run, with its dashboard.

``--once`` runs the scripted flow, checks the outcome through the dashboard's
JSON API and exits 0; without it the service keeps serving (the dashboard
answers the printed token) until Ctrl-C, which stops it cleanly (exit 130).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers._common import wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_demo_serves_its_dashboard_until_stopped(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    folder = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entrepot", "demo", "--dir", str(folder), "--files", "3"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        wait_until(
            lambda: "Ctrl-C stops" in log.read_text() or proc.poll() is not None,
            timeout=120,
            what="the demo's login line",
        )
        text = log.read_text().replace("\n", "")
        assert proc.poll() is None, text
        url = re.search(r"Log in at (http://127\.0\.0\.1:\d+)/login", text)
        assert url, text
        token = (folder / "operator.token").read_text().strip()
        assert token in text  # the login token printed is the operator's
        with httpx.Client(base_url=url.group(1), timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/api/whoami").status_code == 401
            login = client.post("/login", data={"token": token, "next": "/"})
            assert login.status_code == 303, login.text
            assert client.get("/api/whoami").json()["role"] == "operator"
        assert (folder / "state" / "service.json").exists()
        proc.send_signal(sig)
        assert proc.wait(60) == code, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A clean stop: service.json removed, the lock free for `entrepot serve`.
    assert not (folder / "state" / "service.json").exists()
