"""``entrepot demo`` on a folder whose service still runs.

What was wrong: ``entrepot demo`` (``--fresh`` by default) removed the demo
folder without asking whether its service was still running (an earlier
demo, or ``entrepot serve`` on its configuration, as the dashboard's page
suggests): the running service's ledger, lock, spool and deliveries were
deleted under it, and a second service started on the same state folder.
With ``--keep`` the lock was checked, but only after the configuration and
both token files had been rewritten.

What is expected now: the state folder's service lock is checked before
anything is removed or written; a running service is named and the command
exits 3, leaving every file as it was.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.service.instance import is_locked
from tests.acceptance.test_demo import entrepot
from tests.servers._common import wait_until

pytestmark = pytest.mark.slow


def _digests(folder: Path) -> dict[str, str]:
    """Every file's digest but the state folder's, which the running service writes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (folder / "state") not in path.parents
    }


def test_a_demo_folder_whose_service_runs_is_neither_removed_nor_written(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first = entrepot("demo", "--once", "--dir", folder, "--files", "2", "--events", "5")
    assert first.returncode == 0, first.stdout + first.stderr
    with subprocess.Popen(
        [sys.executable, "-m", "entrepot", "serve", "-c", folder / "entrepot.toml"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as service:
        try:
            wait_until(lambda: is_locked(folder / "state"), timeout=60, what="the service")
            ledger = (folder / "state" / "ledger.sqlite3").stat().st_ino
            before = _digests(folder)
            for fresh in ("--fresh", "--keep"):
                again = entrepot("demo", fresh, "--once", "--dir", folder, "--files", "2")
                assert again.returncode == 3, (fresh, again.stdout, again.stderr)
                assert f"PID {service.pid}" in again.stderr, again.stderr
                assert "runs on the state folder" in again.stderr
            assert (folder / "state" / "ledger.sqlite3").stat().st_ino == ledger
            assert _digests(folder) == before  # the configuration and tokens too
            assert service.poll() is None
        finally:
            service.send_signal(signal.SIGTERM)
            assert service.wait(timeout=60) == 0
