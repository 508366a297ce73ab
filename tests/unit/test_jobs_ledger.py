"""The ledger: jobs and runs persisted in SQLite (WAL) — and written before anything is lost."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import ConfigError, DatabaseUnavailable, JobError, UnknownJob
from entrepot.jobs import (
    FakeClock,
    JobContext,
    JobState,
    Ledger,
    Outcome,
    RetryPolicy,
    Runner,
)
from entrepot.jobs.ledger import LEDGER_FILE
from entrepot.jobs.testing import ScriptedJob

QUICK = RetryPolicy(attempts=3, delay=1, jitter=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    with Ledger.open(tmp_path / "state", clock=clock) as book:
        yield book


def test_the_default_ledger_is_sqlite_in_wal_mode_with_full_sync(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert ledger.url.endswith(f"/state/{LEDGER_FILE}")


def test_state_folder_is_created_private(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "a" / "b"):
        pass
    assert (tmp_path / "a" / "b" / LEDGER_FILE).is_file()
    assert (tmp_path / "a" / "b").stat().st_mode & 0o077 == 0


def test_every_run_survives_closing_and_reopening(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "state"
    with Ledger.open(state, clock=clock) as book:
        runner = Runner(book, policy=QUICK)
        good = runner.run(ScriptedJob(items=4, item_bytes=10, label="good"))
        bad = runner.run(ScriptedJob(items=2, fail={"send": ["transient", "permanent"]}))
    with Ledger.open(state, clock=clock) as book:
        job = book.get(good.job_id)
        assert (job.state, job.items, job.bytes, job.runs, job.name) == (
            JobState.SUCCEEDED,
            4,
            40,
            1,
            "good",
        )
        assert job.params == {
            "items": 4,
            "fail": {},
            "item_bytes": 10,
            "label": "good",
            "outage": None,
        }
        assert job.created_at.tzinfo is not None
        [run] = book.runs(good.job_id)
        assert run.outcome == Outcome.SUCCEEDED and run.ended_at is not None
        failed = book.get(bad.job_id)
        assert failed.state == JobState.BACKLOG
        assert (failed.last_step, failed.last_code) == ("send", 300)
        assert "scripted permanent failure in send" in (failed.last_error or "")
        [run] = book.runs(bad.job_id)
        assert (run.outcome, run.attempts, run.code, run.error_type, run.transient) == (
            Outcome.FAILED,
            2,
            300,
            "AuthenticationFailed",
            False,
        )
        assert [h["error_type"] for h in run.history] == [
            "ConnectionFailed",
            "AuthenticationFailed",
        ]
        assert run.duration == 1.0  # one second of back-off on the fake clock


def test_parameters_are_stored_as_json_never_pickle(ledger: Ledger, tmp_path: Path) -> None:
    result = Runner(ledger).run(ScriptedJob(items=1, label="ü → ok"))
    raw = sqlite3.connect(tmp_path / "state" / LEDGER_FILE)
    try:
        (text,) = raw.execute("SELECT params FROM entrepot_jobs WHERE id = ?", (result.job_id,))
    finally:
        raw.close()
    assert json.loads(text[0])["label"] == "ü → ok"


def test_parameters_that_are_not_json_are_refused(ledger: Ledger) -> None:
    class Odd(ScriptedJob):
        def params(self):  # type: ignore[no-untyped-def]
            return {"when": object()}

    with pytest.raises(JobError, match="not JSON"):
        Runner(ledger).run(Odd())
    with pytest.raises(JobError, match="JSON"):
        ledger.add_job("x1", "odd", {"v": {1, 2}})
    assert ledger.jobs() == []


def test_ids_are_unique_in_the_ledger(ledger: Ledger) -> None:
    ledger.add_job("same", "k", {})
    with pytest.raises(JobError, match="already"):
        ledger.add_job("same", "k", {})


def test_lookups(ledger: Ledger) -> None:
    for job_id, kind in [("20260101-a1", "ship"), ("20260101-a2", "ship"), ("20260102-b", "x")]:
        ledger.add_job(job_id, kind, {})
    assert ledger.find("20260102").id == "20260102-b"
    with pytest.raises(UnknownJob, match="more than one"):
        ledger.find("20260101")
    with pytest.raises(UnknownJob):
        ledger.get("nope")
    with pytest.raises(UnknownJob):
        ledger.find("2026_")  # wildcards in a prefix are literal
    assert [j.id for j in ledger.jobs()] == ["20260102-b", "20260101-a2", "20260101-a1"]
    assert [j.id for j in ledger.jobs(kind="ship", limit=1)] == ["20260101-a2"]
    assert ledger.jobs(states=["succeeded"]) == []
    assert ledger.counts()[JobState.PENDING] == 3


def test_claims_are_exclusive(ledger: Ledger) -> None:
    ledger.add_job("j", "k", {}, state=JobState.BACKLOG)
    assert ledger.claim("j", [JobState.BACKLOG])
    assert not ledger.claim("j", [JobState.BACKLOG])
    assert ledger.get("j").state == JobState.RUNNING


def test_the_run_is_written_down_before_it_ends(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "state"
    seen: list[tuple[Outcome, int]] = []

    class Watched(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            # Another connection (as another process would) sees the run in progress.
            with Ledger.open(state) as other:
                [run] = other.runs(ctx.job_id)
                seen.append((run.outcome, len(run.history)))
            super().send(ctx)

    with Ledger.open(state, clock=clock) as book:
        Runner(book, policy=QUICK).run(Watched(fail={"send": ["transient"]}))
    assert seen == [(Outcome.RUNNING, 0), (Outcome.RUNNING, 1)]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_process_died_goes_back_to_the_backlog(ledger: Ledger) -> None:
    ledger.add_job("crashed", "k", {}, state=JobState.RUNNING)
    run_id = ledger.start_run("crashed")
    ledger.add_job("alive", "k", {}, state=JobState.RUNNING)
    ledger.start_run("alive")  # this very process: still running
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE entrepot_job_runs SET pid = ? WHERE id = ?", (_dead_pid(), run_id)
        )
    assert ledger.recover_interrupted() == ["crashed"]
    job = ledger.get("crashed")
    assert job.state == JobState.BACKLOG
    assert job.next_due == ledger.clock.now()
    assert job.failures == 0  # an interruption is not a failed run
    assert ledger.run(run_id).outcome == Outcome.INTERRUPTED
    assert ledger.get("alive").state == JobState.RUNNING
    assert ledger.recover_interrupted() == []


def test_many_writers_share_one_ledger(tmp_path: Path) -> None:
    state = tmp_path / "state"
    errors: list[BaseException] = []
    books = [Ledger.open(state), Ledger.open(state)]  # two engines, like two processes

    def work(book: Ledger) -> None:
        try:
            runner = Runner(book, policy=RetryPolicy.never())
            for n in range(15):
                runner.run(ScriptedJob(items=1, fail={"send": ["permanent"]} if n % 3 else None))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(books[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for book in books:
        book.close()
    assert errors == []
    with Ledger.open(state) as book:
        counts = book.counts()
    assert counts[JobState.SUCCEEDED] == 20
    assert counts[JobState.BACKLOG] == 40


def test_a_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Ledger("not a url")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://user:s3cret@127.0.0.1:1/db",
        "postgresql://user:s3@cret@127.0.0.1:1/db",
        "postgresql://user@127.0.0.1:1/db?password=s3cret",
    ],
)
def test_an_unreachable_ledger_is_temporary_and_never_shows_a_password(url: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        Ledger(url)
    assert "cret" not in str(caught.value)
    assert exit_code_for(caught.value) == ExitCode.TEMPORARY


def test_processes_opening_a_new_ledger_together(tmp_path: Path) -> None:
    opener = (
        "import sys, time\n"
        "from entrepot.jobs import Ledger\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "with Ledger.open(sys.argv[1]) as book:\n"
        "    book.add_job(sys.argv[3], 'k', {})\n"
    )
    import time

    start = str(time.time() + 1.5)  # all four try to create the tables at once
    children = [
        subprocess.Popen([sys.executable, "-c", opener, str(tmp_path / "s"), start, f"j{n}"])
        for n in range(4)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0, 0]
    with Ledger.open(tmp_path / "s") as book:
        assert sorted(j.id for j in book.jobs()) == ["j0", "j1", "j2", "j3"]
