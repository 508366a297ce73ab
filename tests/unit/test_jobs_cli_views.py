"""How ``jobs``/``backlog`` commands show jobs: times in UTC, a run whose process
died as interrupted, and a drop's reason with its password masked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob

KILLED = textwrap.dedent(
    """
    import os, sys
    from entrepot.jobs import Ledger, Runner
    from entrepot.jobs.testing import ScriptedJob

    class Killed(ScriptedJob):
        def send(self, ctx):
            os._exit(9)  # as kill -9 would: no cleanup, the run stays marked running

    Runner(Ledger.open(sys.argv[1])).run(Killed(), job_id="20260105-killed")
    """
)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    with Ledger.open(folder) as ledger:
        runner = Runner(ledger, policy=RetryPolicy.never())
        runner.run(ScriptedJob(fail={"send": ["permanent"]}), job_id="20260102-bad")
    return folder


def test_job_times_are_shown_in_utc_whatever_the_local_zone(
    cli, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        with Ledger.open(state) as ledger:
            job = ledger.get("20260102-bad")
        assert job.created_at is not None and job.next_due is not None
        created = job.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        due = job.next_due.strftime("%Y-%m-%d %H:%M:%S UTC")
        _, shown, _ = cli("jobs", "show", "20260102-bad", "--state", state)
        assert created in shown and due in shown
        _, listed, _ = cli("jobs", "ls", "--state", state)
        assert due in listed.replace("\n", " ") or due.split()[0] in listed
        _, waiting, _ = cli("backlog", "ls", "--state", state)
        assert due.split()[0] in waiting
        assert "UTC" in listed and "UTC" in waiting
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_run_killed_mid_way_is_shown_interrupted_by_jobs_ls(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([sys.executable, "-c", KILLED, str(state)], check=False, timeout=60)
    with Ledger.open(state) as ledger:  # left running by the process that died
        assert ledger.get("20260105-killed").state == JobState.RUNNING
    code, out, _ = cli("jobs", "ls", "--state", state, "--json")
    assert code == 0
    [killed] = [job for job in json.loads(out) if job["id"] == "20260105-killed"]
    assert killed["state"] == "backlog"
    _, shown, _ = cli("jobs", "show", "20260105-killed", "--state", state)
    assert "interrupted" in shown and "[None]" not in shown


def test_a_drop_confirms_its_reason_with_the_password_masked(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    reason = "moved to ftp://ops:hunter2@new-host/in (password=hunter2)"
    code, out, _ = cli("backlog", "drop", "20260102-bad", "--reason", reason, "--state", state)
    assert code == 0
    assert "hunter2" not in out and "ftp://ops:***@new-host/in" in out


def test_status_tells_a_job_marked_running_whose_process_is_gone(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After a ``kill -9`` the ledger still said running and ``status`` exited 0 with a
    running job, no service running it; it now lists the job and exits 1, as for the
    backlog, without changing the ledger (``jobs ls`` puts it back)."""
    folder = tmp_path / "state"
    Ledger.open(folder).close()
    subprocess.run([sys.executable, "-c", KILLED, str(folder)], check=False, timeout=60)
    code, out, _ = cli("status", "--state", folder, "--json")
    assert code == 1
    shown = json.loads(out)
    assert shown["orphaned"] == ["20260105-killed"] and shown["jobs"]["running"] == 1
    code, out, _ = cli("status", "--state", folder)
    assert code == 1 and "their process gone" in out and "20260105-killed" in out
    with Ledger.open(folder) as ledger:  # status only read
        assert ledger.get("20260105-killed").state == JobState.RUNNING
    assert cli("jobs", "ls", "--state", folder)[0] == 0
    code, out, _ = cli("status", "--state", folder, "--json")
    assert json.loads(out)["orphaned"] == [] and json.loads(out)["jobs"]["backlog"] == 1
