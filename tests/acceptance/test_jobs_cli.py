"""The jobs and backlog commands as an operator runs them: ``entrepot`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))

# Fills a ledger the way a shipper would: one good run, one that fails and
# waits in the backlog, one that fails so often that it is parked as dead.
FILL = """
import sys
from entrepot.jobs import Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob

with Ledger.open(sys.argv[1]) as ledger:
    runner = Runner(ledger, policy=RetryPolicy(attempts=2, delay=0.01, jitter=0),
                    reruns=RetryPolicy(attempts=2, delay=3600, max_delay=3600))
    runner.run(ScriptedJob(items=2, item_bytes=10, label="nightly"), job_id="20260101-ok")
    runner.run(ScriptedJob(fail={"send": ["transient", "permanent"]}), job_id="20260102-waits")
    outage = sys.argv[1] + "-outage"
    open(outage, "w").close()
    runner.run(ScriptedJob(outage=outage), job_id="20260103-dies")
    runner.rerun("20260103-dies")
"""


def entrepot(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTREPOT, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("jobs-cli") / "state"
    subprocess.run([sys.executable, "-c", FILL, str(folder)], check=True, timeout=60)
    return folder


def test_jobs_ls_and_filters(state: Path) -> None:
    listing = entrepot("jobs", "ls", "--state", state)
    assert listing.returncode == 0, listing.stderr
    for job_id in ("20260101-ok", "20260102-waits", "20260103-dies"):
        assert job_id in listing.stdout
    dead = entrepot(
        "jobs", "ls", "--status", "dead", "--json", env={"ENTREPOT_STATE_DIR": str(state)}
    )
    assert [job["id"] for job in json.loads(dead.stdout)] == ["20260103-dies"]
    assert json.loads(dead.stdout)[0]["reason"] == "failed 2 runs in a row"


def test_jobs_show_tells_the_whole_story(state: Path) -> None:
    shown = entrepot("jobs", "show", "20260102-waits", "--state", state)
    assert shown.returncode == 0, shown.stderr
    assert "state:                backlog" in shown.stdout
    assert "[300] send failed: scripted permanent failure in send" in shown.stdout
    assert "1. send: ConnectionFailed: scripted transient failure in send, retried after" in (
        shown.stdout
    )
    missing = entrepot("jobs", "show", "nope", "--state", state)
    assert missing.returncode == 4 and "no job" in missing.stderr


def test_backlog_retry_and_drop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    subprocess.run([sys.executable, "-c", FILL, str(state)], check=True, timeout=60)
    listed = entrepot("backlog", "ls", "--state", state)
    assert "backlog — 2 jobs" in listed.stdout
    assert listed.stdout.index("20260102-waits") < listed.stdout.index("20260103-dies")

    # The outage is over: the dead job, retried by its id, is rebuilt and succeeds.
    Path(f"{state}-outage").unlink()
    revived = entrepot("backlog", "retry", "20260103", "--state", state)
    assert revived.returncode == 0, revived.stderr
    assert "succeeded" in revived.stdout

    # Nothing is due yet; --force re-runs the waiting job anyway (and it fails again).
    assert "no job to re-run" in entrepot("backlog", "retry", "--all", "--state", state).stderr
    forced = entrepot("backlog", "retry", "--all", "--force", "--state", state)
    assert forced.returncode == 1 and "20260102-waits" in forced.stdout

    dropped = entrepot(
        "backlog", "drop", "20260102-waits", "--reason", "superseded", "--state", state
    )
    assert dropped.returncode == 0, dropped.stderr
    assert "backlog — 0 jobs" in entrepot("backlog", "ls", "--state", state).stdout
    shown = json.loads(
        entrepot("jobs", "show", "20260102-waits", "--json", "--state", state).stdout
    )
    assert shown["state"] == "dropped" and shown["reason"] == "superseded"
    assert [run["trigger"] for run in shown["run_list"]] == ["new", "retry"]


def test_a_job_killed_mid_run_is_back_in_the_backlog(tmp_path: Path) -> None:
    state = tmp_path / "state"
    killer = (
        "import os, signal, sys\n"
        "from entrepot.jobs import Ledger, Runner\n"
        "from entrepot.jobs.testing import ScriptedJob\n"
        "class Killed(ScriptedJob):\n"
        "    def send(self, ctx):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "Runner(Ledger.open(sys.argv[1])).run(Killed(), job_id='20260104-killed')\n"
    )
    died = subprocess.run([sys.executable, "-c", killer, str(state)], timeout=60, check=False)
    assert died.returncode == -9
    listed = entrepot("backlog", "ls", "--json", "--state", state)
    [job] = json.loads(listed.stdout)
    assert (job["id"], job["state"], job["last_outcome"]) == (
        "20260104-killed",
        "backlog",
        "interrupted",
    )
    retried = entrepot("backlog", "retry", "--all", "--state", state)
    assert retried.returncode == 0, retried.stderr
    shown = json.loads(
        entrepot("jobs", "show", "20260104-killed", "--json", "--state", state).stdout
    )
    assert [run["outcome"] for run in shown["run_list"]] == ["interrupted", "succeeded"]
