"""The backlog: failed jobs re-run with back-off, parked dead, dropped with a reason."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConnectionFailed, JobError
from entrepot.jobs import (
    Backlog,
    FakeClock,
    JobContext,
    JobState,
    Ledger,
    Outcome,
    RetryPolicy,
    Runner,
    register_job_kind,
    unregister_job_kind,
)
from entrepot.jobs.testing import ScriptedJob

IN_RUN = RetryPolicy(attempts=2, delay=1, jitter=0)
BETWEEN_RUNS = RetryPolicy(attempts=4, delay=60, factor=2, max_delay=3600, jitter=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    with Ledger.open(tmp_path / "state", clock=clock) as book:
        yield book


@pytest.fixture
def runner(ledger: Ledger) -> Runner:
    return Runner(ledger, policy=IN_RUN, reruns=BETWEEN_RUNS)


@pytest.fixture
def backlog(ledger: Ledger, runner: Runner) -> Backlog:
    return Backlog(ledger, runner)


@pytest.fixture(autouse=True)
def _scripted_kind() -> None:
    register_job_kind("scripted", ScriptedJob.from_params, replace=True)


class FlakyServer:
    """A server that refuses the first ``down_for`` sends, then accepts everything."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.sends = 0
        self.delivered: list[str] = []
        self.lock = threading.Lock()

    def job(self, params: dict[str, Any]) -> ScriptedJob:
        server = self

        class Shipping(ScriptedJob):
            kind = "flaky"

            def send(self, ctx: JobContext) -> None:
                with server.lock:
                    server.sends += 1
                    if server.sends <= server.down_for:
                        raise ConnectionFailed("server down")
                    server.delivered.append(ctx.job_id)

        return Shipping(**params)


def test_a_failed_job_waits_with_backoff_between_runs_then_is_parked_dead(
    backlog: Backlog, runner: Runner, clock: FakeClock
) -> None:
    server = FlakyServer(down_for=1000)
    register_job_kind("flaky", server.job, replace=True)
    try:
        first = runner.run(server.job({}))
        assert first.state == JobState.BACKLOG
        assert server.sends == 2  # in-run retry first
        waits = [first.next_due - clock.now()]  # type: ignore[operator]
        for _ in range(2):
            assert backlog.retry_due() == []  # not due yet
            clock.advance(waits[-1].total_seconds())
            [result] = backlog.retry_due()
            assert result.outcome == Outcome.FAILED and result.state == JobState.BACKLOG
            waits.append(result.next_due - clock.now())  # type: ignore[operator]
        assert waits == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]
        clock.advance(240)
        [last] = backlog.retry_due()
        assert last.state == JobState.DEAD
        job = backlog.ledger.get(first.job_id)
        assert (job.state, job.failures, job.runs) == (JobState.DEAD, 4, 4)
        assert job.reason == "failed 4 runs in a row"
        assert job.last_error == "send failed: server down"
        # Dead jobs stay visible and are never re-run on their own.
        clock.advance(10 * 3600)
        assert backlog.retry_due() == []
        assert [(j.id, j.state) for j in backlog.list()] == [(first.job_id, JobState.DEAD)]
        assert backlog.list(dead=False) == []
        runs = backlog.show(first.job_id).runs
        assert [r.trigger for r in runs] == ["new", "due", "due", "due"]
        assert all(r.attempts == 2 for r in runs)
    finally:
        unregister_job_kind("flaky")


def test_a_server_that_comes_back_after_failures(
    backlog: Backlog, runner: Runner, clock: FakeClock
) -> None:
    server = FlakyServer(down_for=5)
    register_job_kind("flaky", server.job, replace=True)
    try:
        result = runner.run(server.job({"items": 3}))
        for _ in range(3):
            if result.ok:
                break
            clock.advance(3600)
            [result] = backlog.retry_due()
        assert result.ok and result.state == JobState.SUCCEEDED
        assert server.sends == 6 and server.delivered == [result.job_id]
        job = backlog.ledger.get(result.job_id)
        assert (job.runs, job.failures, job.next_due) == (3, 0, None)
    finally:
        unregister_job_kind("flaky")


def test_a_permanent_error_goes_straight_to_the_backlog_with_its_reason(
    runner: Runner, backlog: Backlog
) -> None:
    result = runner.run(ScriptedJob(fail={"send": ["permanent"]}))
    assert result.attempts == 1 and result.state == JobState.BACKLOG
    [job] = backlog.list()
    assert job.id == result.job_id
    assert job.last_error == "send failed: scripted permanent failure in send"
    [run] = backlog.show(job.id).runs
    assert run.transient is False and run.error_type == "AuthenticationFailed"


def test_retry_now_ignores_the_due_time_and_records_the_run(
    runner: Runner, backlog: Backlog
) -> None:
    failed = runner.run(ScriptedJob(fail={"send": ["permanent"]}))
    # Rebuilt from its parameters the scripted job fails again the same way...
    again = backlog.retry(failed.job_id[:24])
    assert again.code == 300 and again.job_id == failed.job_id
    assert [r.trigger for r in backlog.show(failed.job_id).runs] == ["new", "retry"]


def test_retrying_a_dead_job_by_id_revives_it(
    ledger: Ledger, backlog: Backlog, clock: FakeClock
) -> None:
    ledger.add_job("old-1", "scripted", ScriptedJob(items=2).params(), state=JobState.DEAD)
    result = backlog.retry("old-1")
    assert result.ok and ledger.get("old-1").state == JobState.SUCCEEDED


def test_only_waiting_or_dead_jobs_are_retried(runner: Runner, backlog: Backlog) -> None:
    done = runner.run(ScriptedJob())
    with pytest.raises(JobError, match="succeeded"):
        backlog.retry(done.job_id)


def test_retry_all_reruns_waiting_jobs_even_if_not_due_but_no_dead_ones(
    ledger: Ledger, backlog: Backlog
) -> None:
    params = ScriptedJob().params()
    ledger.add_job("a", "scripted", params, state=JobState.BACKLOG,
                   next_due=ledger.clock.now() + timedelta(days=1))  # fmt: skip
    ledger.add_job("b", "scripted", params, state=JobState.DEAD)
    assert backlog.retry_due() == []
    results = backlog.retry_all()
    assert [r.job_id for r in results] == ["a"]
    assert ledger.get("b").state == JobState.DEAD


def test_drop_keeps_the_job_and_its_reason(runner: Runner, backlog: Backlog) -> None:
    failed = runner.run(ScriptedJob(fail={"produce": ["permanent"]}))
    with pytest.raises(ValueError, match="reason"):
        backlog.drop(failed.job_id, "  ")
    dropped = backlog.drop(failed.job_id, "source data deleted upstream")
    assert dropped.state == JobState.DROPPED
    assert dropped.reason == "source data deleted upstream"
    assert backlog.list() == []
    [kept] = backlog.ledger.jobs(states=[JobState.DROPPED])
    assert kept.id == failed.job_id and kept.last_code == 200
    with pytest.raises(JobError, match="dropped"):
        backlog.drop(failed.job_id, "twice")
    done = runner.run(ScriptedJob())
    with pytest.raises(JobError, match="succeeded"):
        backlog.drop(done.job_id, "no")


def test_a_kind_that_cannot_be_rebuilt_is_a_recorded_failure(
    ledger: Ledger, backlog: Backlog
) -> None:
    ledger.add_job("mystery", "no-such-kind", {}, state=JobState.BACKLOG)
    result = backlog.retry("mystery")
    assert (result.outcome, result.code, result.step) == (Outcome.FAILED, 100, "prepare")
    job = ledger.get("mystery")
    assert job.state == JobState.BACKLOG
    assert "unknown job kind 'no-such-kind'" in (job.last_error or "")
    assert len(ledger.runs("mystery")) == 1


def test_submitted_jobs_run_when_due(runner: Runner, ledger: Ledger, clock: FakeClock) -> None:
    now = runner.submit(ScriptedJob(label="now"))
    later = runner.submit(ScriptedJob(label="later"), due=clock.now() + timedelta(minutes=5))
    assert ledger.get(now.id).state == JobState.PENDING
    assert [r.job_id for r in runner.run_due()] == [now.id]
    clock.advance(300)
    [result] = runner.run_due()
    assert result.job_id == later.id and result.ok
    assert [r.trigger for r in ledger.runs(later.id)] == ["due"]


def test_an_interrupted_run_is_recorded_and_due_again_at_once(
    runner: Runner, ledger: Ledger
) -> None:
    class Stopped(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(Stopped(), job_id="stopped-1")
    job = ledger.get("stopped-1")
    assert job.state == JobState.BACKLOG and job.next_due == ledger.clock.now()
    assert job.failures == 0
    [run] = ledger.runs("stopped-1")
    assert run.outcome == Outcome.INTERRUPTED and run.ended_at is not None


def test_the_backlog_needs_its_ledgers_runner(ledger: Ledger, tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "other") as other, pytest.raises(ValueError):
        Backlog(ledger, Runner(other))


def test_a_locked_remote_defers_the_job_without_counting_a_failure(
    runner: Runner, ledger: Ledger, clock: FakeClock
) -> None:
    from entrepot.errors import RemoteLocked

    class Locked(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            self.calls.append("send")
            raise RemoteLocked("a 'write' lock file is present")

    job = Locked()
    result = runner.run(job, job_id="locked-1")
    assert job.calls.count("send") == 2  # retried in the run, like any transient error
    assert (result.outcome, result.ok, result.state) == (Outcome.DEFERRED, False, JobState.BACKLOG)
    assert result.next_due == clock.now() + timedelta(seconds=60)
    record = ledger.get("locked-1")
    assert (record.failures, record.last_outcome) == (0, Outcome.DEFERRED)
    assert record.last_error == "send failed: a 'write' lock file is present"


def test_a_pass_runs_each_due_job_once_even_when_a_run_leaves_it_due_again(
    ledger: Ledger, clock: FakeClock
) -> None:
    # No wait between runs: a failed job is due again at once (the clock stands still).
    runner = Runner(ledger, policy=IN_RUN, reruns=RetryPolicy(attempts=9, delay=0, jitter=0))
    failing = runner.submit(ScriptedJob(fail={"send": ["transient"] * 8}))
    passing = runner.submit(ScriptedJob(label="passing"))
    results = runner.run_due()
    assert [r.job_id for r in results] == [failing.id, passing.id]
    assert ledger.get(failing.id).next_due == clock.now()  # due again, for the next pass
    [again] = runner.run_due()
    assert again.job_id == failing.id and len(ledger.runs(failing.id)) == 2


def test_a_pass_over_more_due_jobs_than_a_statement_may_name(
    runner: Runner, ledger: Ledger
) -> None:
    # SQLite builds before 3.32 bind at most 999 values a statement (set for every
    # connection of the suite): the jobs run in a pass are not listed in a query.
    submitted = {runner.submit(ScriptedJob()).id for _ in range(1_000)}
    results = runner.run_due()
    assert len(results) == 1_000 and {r.job_id for r in results} == submitted
    assert all(r.ok for r in results)
