"""The job lifecycle: every path through prepare → produce → send → cleanup."""

from __future__ import annotations

import pytest

from entrepot.errors import ConnectionFailed, JobFailed
from entrepot.jobs import (
    FakeClock,
    Job,
    JobContext,
    Outcome,
    RetryDecision,
    RetryPolicy,
    Runner,
    Step,
    execute,
)
from entrepot.jobs.testing import ScriptedJob

NO_JITTER = RetryPolicy(attempts=3, delay=1.0, factor=2.0, jitter=0.0)


def run(job: Job, policy: RetryPolicy = NO_JITTER, clock: FakeClock | None = None):  # type: ignore[no-untyped-def]
    ctx = JobContext(job_id="j1", clock=clock or FakeClock())
    return execute(job, ctx, policy=policy)


def test_success_runs_every_step_once_and_cleans_up_without_error() -> None:
    job = ScriptedJob(items=3, item_bytes=100)
    result = run(job)
    assert job.calls == ["prepare", "produce", "send", "cleanup"]
    assert job.cleaned == [None]
    assert result.outcome == Outcome.SUCCEEDED
    assert (result.code, result.attempts, result.items, result.bytes) == (0, 1, 3, 300)
    assert result.error is None


def test_zero_items_ends_successfully_without_sending() -> None:
    job = ScriptedJob(items=0)
    result = run(job)
    assert job.calls == ["prepare", "produce", "cleanup"]
    assert result.outcome == Outcome.EMPTY
    assert result.outcome.ok
    assert job.cleaned == [None]


@pytest.mark.parametrize(
    ("step", "code", "calls"),
    [
        ("prepare", 100, ["prepare", "cleanup"]),
        ("produce", 200, ["prepare", "produce", "cleanup"]),
        ("send", 300, ["prepare", "produce", "send", "cleanup"]),
    ],
)
def test_a_permanent_failure_in_each_step_is_recorded_with_its_code(
    step: str, code: int, calls: list[str]
) -> None:
    job = ScriptedJob(items=2, fail={step: ["permanent"]})
    result = run(job)
    assert job.calls == calls
    assert result.outcome == Outcome.FAILED
    assert result.code == code
    error = result.error
    assert isinstance(error, JobFailed)
    assert (error.step, error.code, error.transient) == (step, code, False)
    assert type(error.__cause__).__name__ == "AuthenticationFailed"
    assert f"scripted permanent failure in {step}" in error.message
    assert job.cleaned == [error]
    assert [(r.step, r.transient) for r in result.policy.history] == [(step, False)]


def test_a_cleanup_failure_fails_an_otherwise_good_run_with_code_400() -> None:
    job = ScriptedJob(fail={"cleanup": ["bug"]})
    result = run(job)
    assert result.outcome == Outcome.FAILED
    assert result.code == 400
    assert result.error is not None and result.error.step == "cleanup"
    assert isinstance(result.error.__cause__, RuntimeError)


def test_an_earlier_failure_wins_over_a_cleanup_failure() -> None:
    job = ScriptedJob(fail={"send": ["permanent"], "cleanup": ["bug"]})
    result = run(job)
    assert result.code == 300
    assert result.cleanup_error is not None and result.cleanup_error.code == 400
    assert [r.step for r in result.policy.history] == ["send", "cleanup"]


def test_a_bug_in_a_step_is_a_permanent_failure_not_a_crash() -> None:
    job = ScriptedJob(fail={"produce": ["bug"]})
    result = run(job)
    assert result.code == 200
    assert isinstance(result.error and result.error.__cause__, RuntimeError)


def test_transient_failures_retry_the_same_step_after_exact_backoffs() -> None:
    clock = FakeClock()
    job = ScriptedJob(items=1, fail={"send": ["transient", "timeout"]})
    result = run(job, clock=clock)
    assert job.calls == ["prepare", "produce", "send", "send", "send", "cleanup"]
    assert clock.sleeps == [1.0, 2.0]
    assert result.outcome == Outcome.SUCCEEDED
    assert result.attempts == 3
    assert job.cleaned == [None]
    assert [r.delay for r in result.policy.history] == [1.0, 2.0]


def test_tries_run_out() -> None:
    clock = FakeClock()
    job = ScriptedJob(fail={"prepare": ["transient"] * 5})
    result = run(job, RetryPolicy(attempts=2, delay=5, jitter=0), clock)
    assert job.calls == ["prepare", "prepare", "cleanup"]
    assert clock.sleeps == [5]
    assert result.code == 100 and result.error is not None and result.error.transient


def test_the_time_budget_is_measured_on_the_clock() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=10, delay=10, factor=1, jitter=0, budget=25)
    job = ScriptedJob(fail={"send": ["transient"] * 10})
    result = run(job, policy, clock)
    assert clock.sleeps == [10, 10]
    assert result.attempts == 3
    assert clock.monotonic() == 20


def test_steps_outside_retry_steps_are_not_retried() -> None:
    class SendOnly(ScriptedJob):
        retry_steps = frozenset({Step.SEND})

    job = SendOnly(fail={"prepare": ["transient"]})
    result = run(job)
    assert job.calls == ["prepare", "cleanup"]
    assert result.code == 100
    assert result.policy.history[0].transient is True


def test_an_error_subcode_is_added_to_the_step_code() -> None:
    class Refused(Exception):
        subcode = 107  # kept within 0-99

    class Job7(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            raise Refused("no")

    assert run(Job7()).code == 307


def test_each_failure_is_reported_before_the_wait() -> None:
    clock = FakeClock()
    seen: list[tuple[str, bool, float]] = []

    def hook(failure: JobFailed, decision: RetryDecision) -> None:
        seen.append((failure.step, decision.retry, clock.monotonic()))

    job = ScriptedJob(fail={"send": ["transient", "permanent"]})
    ctx = JobContext(job_id="j", clock=clock)
    execute(job, ctx, policy=NO_JITTER, on_failure=hook)
    assert seen == [("send", True, 0.0), ("send", False, 1.0)]


def test_ctrl_c_still_cleans_up_and_propagates() -> None:
    class Interrupted(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            raise KeyboardInterrupt

    job = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        run(job)
    assert len(job.cleaned) == 1
    error = job.cleaned[0]
    assert error is not None and error.step == "send"


def test_a_runner_without_ledger_just_runs() -> None:
    clock = FakeClock()
    runner = Runner(policy=NO_JITTER, clock=clock)
    result = runner.run(ScriptedJob(items=2, fail={"send": ["transient"]}))
    assert result.ok and result.state is None and result.run_id is None
    assert result.attempts == 2 and clock.sleeps == [1.0]
    failed = runner.run(ScriptedJob(fail={"produce": ["permanent"]}))
    assert not failed.ok and failed.code == 200 and failed.step == "produce"


def test_jobs_may_bring_their_own_policy() -> None:
    class Patient(ScriptedJob):
        def retry_policy(self) -> RetryPolicy:
            return RetryPolicy.fixed(5, 30)

    clock = FakeClock()
    result = Runner(policy=RetryPolicy.never(), clock=clock).run(
        Patient(fail={"send": ["transient"] * 3})
    )
    assert result.ok and clock.sleeps == [30, 30, 30]


def test_connection_failed_is_retried_by_default_policy() -> None:
    clock = FakeClock()

    class Flaky(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            self.calls.append("send")
            if len(self.calls) < 5:
                raise ConnectionFailed("reset")

    result = Runner(clock=clock).run(Flaky())
    assert result.ok and result.attempts == 3


def test_produce_must_count_its_items() -> None:
    class Confused(ScriptedJob):
        def produce(self, ctx: JobContext) -> int:
            return ["a", "b"]  # type: ignore[return-value]

    result = run(Confused())
    assert result.code == 200
    assert isinstance(result.error and result.error.__cause__, TypeError)

    class Silent(ScriptedJob):
        def produce(self, ctx: JobContext) -> int:
            return None  # type: ignore[return-value]

    job = Silent()
    assert run(job).outcome == Outcome.EMPTY and "send" not in job.calls
