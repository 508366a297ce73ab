"""``entrepot demo`` in a subprocess: the service's first run, with its dashboard.

``--once`` runs the scripted flow, checks the outcome through the dashboard's
JSON API and exits 0; without it the service keeps serving (the dashboard
answers the printed token) until Ctrl-C, which stops it cleanly (exit 130).
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers._common import wait_until

pytestmark = pytest.mark.slow


def entrepot(*args: object, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=timeout,
    )


def test_demo_once_checks_the_outcome_through_the_dashboard(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = entrepot("demo", "--once", "--dir", folder, "--files", "5", "--events", "50")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.replace("\n", "")
    assert re.search(r"its dashboard: http://127\.0\.0\.1:\d+/", out), out
    assert "all as expected" in out

    # What the check saw through the API is on disk too: every file delivered…
    delivered = sorted(path.name for path in (folder / "partner-drop").iterdir())
    assert [name for name in delivered if name.endswith(".csv")] == [
        f"orders-{n:03d}.csv" for n in range(5)
    ]
    assert len([name for name in delivered if ".events" in name]) == 3
    assert not list((folder / "outbox" / "new").iterdir())
    # …the CSV imported, its bad rows pending with their reasons…
    pending = (folder / "datacenter" / "customers.create.pending.csv").read_text()
    assert "--ERRORS--" in pending and "C003" in pending and "C004" in pending
    assert not (folder / "uploads" / "customers.csv").exists()
    # …the tokens private, and the service stopped cleanly (no service.json left).
    for role in ("operator", "viewer"):
        mode = stat.S_IMODE((folder / f"{role}.token").stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert not (folder / "state" / "service.json").exists()
    config = (folder / "entrepot.toml").read_text()
    assert 'listen = "127.0.0.1:0"' in config and "viewer_token_file" in config
    # The configuration it wrote is one `entrepot validate` accepts as it is.
    checked = entrepot("validate", "--config", folder / "entrepot.toml", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["ok"] is True


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


def test_a_folder_that_is_not_a_demos_is_never_emptied_nor_written_into(tmp_path: Path) -> None:
    from entrepot.cli.demo_config import is_demo_folder, write_demo

    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "entrepot.toml").write_text("# my own service\n")
    (mine / "keep.csv").write_text("precious\n")
    for fresh in ("--fresh", "--keep"):  # --dir . or --dir ~ by a slip
        done = entrepot("demo", "--dir", mine, fresh, "--once", timeout=60)
        assert done.returncode == 3, done.stderr
        assert "is not a demo's folder" in done.stderr and "left as it is" in done.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["entrepot.toml", "keep.csv"]
    assert (mine / "entrepot.toml").read_text() == "# my own service\n"
    # An earlier demo's folder, or an empty one, is the demo's to empty.
    write_demo(tmp_path / "earlier", port=0, per_archive=1)
    (tmp_path / "empty").mkdir()
    assert is_demo_folder(tmp_path / "earlier") and is_demo_folder(tmp_path / "empty")
    assert not is_demo_folder(mine)
    port = entrepot("demo", "--dir", tmp_path / "other", "--port", "70000", timeout=60)
    assert port.returncode == 2 and not (tmp_path / "other").exists()
