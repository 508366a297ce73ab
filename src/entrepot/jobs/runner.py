"""Running jobs: the lifecycle, the retry policy and the ledger together.

:class:`Runner` runs one job under a retry policy, on a clock, and writes the
run into the ledger as it goes: the run's row exists before the first step,
each failure is written before any wait, and the end before the call returns.
A job that fails after its retries goes to the backlog, due again after the
between-runs back-off (:attr:`Runner.reruns`); after ``reruns.attempts``
failed runs in a row it is parked as ``dead`` — still in the ledger, waiting
for an operator to retry or drop it.

A *deferred* run (the remote side was locked) also waits in the backlog, due
after the first between-runs delay, but never counts towards ``dead``.

Without a ledger the runner simply runs the job and returns the result.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from entrepot.errors import JobError, JobFailed, WorkClaimed
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.ids import JobIdFactory, new_job_id
from entrepot.jobs.kinds import build_job
from entrepot.jobs.lifecycle import Job, JobContext, Outcome, Step, execute, step_failure
from entrepot.jobs.params import check_params
from entrepot.jobs.records import JobRecord
from entrepot.jobs.retry import (
    DEFAULT_RERUNS,
    DEFAULT_RETRY,
    RetryDecision,
    RetryPolicy,
    RetryRecord,
)
from entrepot.jobs.states import OPEN, WAITING, JobState
from entrepot.logs import log_event

if TYPE_CHECKING:
    # Only the ledger's types: a run without a ledger needs no database code.
    from entrepot.jobs.claims import Claim
    from entrepot.jobs.ledger import Ledger

logger = logging.getLogger(__name__)

#: The kind of claim that makes a shared piece of work (a job identity) run once at a time.
WORK_CLAIMS = "work"
#: Seconds a shared work's claim holds without a heartbeat when the ledger sets no lease.
DEFAULT_LEASE = 60.0


@dataclass(frozen=True)
class RunResult:
    """How a run went, and where it left the job."""

    job_id: str
    outcome: Outcome
    code: int
    """0 on success, else the failing step's code plus the error's subcode."""
    step: str | None
    error: JobFailed | None
    """The failure, with the original error as ``__cause__``."""
    attempts: int
    items: int
    bytes: int
    history: tuple[RetryRecord, ...]
    state: JobState | None = None
    """The job's state afterwards (``None`` without a ledger)."""
    next_due: datetime | None = None
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome.ok


def _history(records: tuple[RetryRecord, ...]) -> list[dict[str, Any]]:
    return [asdict(record) for record in records]


def _check_params(job: Job) -> dict[str, Any]:
    try:
        return check_params(job.params())
    except JobError as exc:
        raise JobError(f"the parameters of job kind {job.kind!r}: {exc}") from exc


class Runner:
    """Runs jobs and keeps the ledger.

    ``policy`` is the in-run retry policy (a job may bring its own through
    :meth:`Job.retry_policy`); ``reruns`` spaces the runs of a job that keeps
    failing and, through its ``attempts``, says after how many failed runs in
    a row the job is parked as dead.  ``rng`` draws the jitter: pass a seeded
    ``random.Random`` for repeatable delays.
    """

    def __init__(
        self,
        ledger: Ledger | None = None,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
        reruns: RetryPolicy = DEFAULT_RERUNS,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        logger: logging.Logger = logger,
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.reruns = reruns
        self.clock = clock or (ledger.clock if ledger is not None else SYSTEM_CLOCK)
        self.rng = rng
        self.logger = logger
        # Ids follow the runner's clock, so a fake clock gives ids of its own time.
        self.new_id = new_job_id if self.clock is SYSTEM_CLOCK else JobIdFactory(self.clock)

    def run(self, job: Job, *, job_id: str | None = None, shared: bool = False) -> RunResult:
        """Run a new job now and record it; returns how it went (never raises for a failure).

        When the job has an :meth:`~entrepot.jobs.Job.identity` and a job of
        the same identity waits in the ledger, this run is recorded as a run
        of that job (trigger ``joined``), with this job's parameters.

        A ``shared`` job is one piece of work for every instance of a fleet
        sharing the ledger: its identity is claimed for the run (renewed by
        the instance's heartbeat), and while another instance runs it this
        raises :class:`~entrepot.errors.WorkClaimed` without recording a run.
        """
        if self.ledger is None:
            return self._execute(job, job_id or self.new_id(), None, failures=0)
        params = _check_params(job)
        identity = job.identity()
        claim = self._claim_work(identity) if shared and identity is not None else None
        try:
            if identity is not None and job_id is None:
                for waiting in self.ledger.open_jobs(identity):
                    run_id = self.ledger.start_run(
                        waiting.id, trigger="joined", claim_from=OPEN, params=params, name=job.name
                    )
                    if run_id is not None:  # else taken by another runner meanwhile
                        return self._execute(job, waiting.id, run_id, failures=waiting.failures)
            job_id = job_id or self.new_id()
            # Recorded as pending first: a crash before the run starts leaves a job that
            # run_due() picks up, never a lost one — once a lease has passed, so that no
            # backlog lane (of this instance or another) takes it before its run starts.
            due = self.clock.now() + timedelta(seconds=self.ledger.lease or DEFAULT_LEASE)
            self.ledger.add_job(job_id, job.kind, params, name=job.name, state=JobState.PENDING,
                                next_due=due, identity=identity, shared=shared)  # fmt: skip
            run_id = self.ledger.start_run(job_id, trigger="new", claim_from=[JobState.PENDING])
            if run_id is None:
                raise JobError(f"job {job_id} was taken by another runner before it started")
            return self._execute(job, job_id, run_id, failures=0)
        finally:
            if claim is not None:
                self.ledger.release_key(claim)

    def _claim_work(self, identity: str) -> Claim:
        """Claim the shared work ``identity`` for this instance, or raise WorkClaimed."""
        ledger = self._need_ledger()
        claim = ledger.claim_key(WORK_CLAIMS, identity, lease=ledger.lease or DEFAULT_LEASE)
        if claim is None:
            held = ledger.key_claim(WORK_CLAIMS, identity)
            holder = held.holder if held is not None else "?"
            raise WorkClaimed(f"instance {holder} runs this work now", holder=holder)
        return claim

    def submit(
        self,
        job: Job,
        *,
        job_id: str | None = None,
        due: datetime | None = None,
        shared: bool = False,
    ) -> JobRecord:
        """Record a job to run later (at ``due``, default now) by :meth:`run_due`; a
        ``shared`` one by any instance of the fleet."""
        ledger = self._need_ledger()
        params = _check_params(job)
        return ledger.add_job(
            job_id or self.new_id(),
            job.kind,
            params,
            name=job.name,
            state=JobState.PENDING,
            next_due=due,
            identity=job.identity(),
            shared=shared,
        )

    def rerun(
        self,
        job_id: str,
        *,
        trigger: str = "retry",
        from_states: tuple[JobState, ...] = (*WAITING, JobState.DEAD),
    ) -> RunResult:
        """Run a recorded job again, rebuilt from its kind and parameters.

        Raises :class:`~entrepot.errors.JobError` when the job is not in one
        of ``from_states`` (for instance, another process runs it right now).
        """
        ledger = self._need_ledger()
        run_id = ledger.start_run(job_id, trigger=trigger, claim_from=from_states)
        if run_id is None:
            allowed = ", ".join(from_states)
            state = ledger.get(job_id).state
            raise JobError(f"job {job_id} is {state}; only {allowed} jobs re-run")
        return self._run_started(job_id, run_id)

    def _run_started(self, job_id: str, run_id: int, record: JobRecord | None = None) -> RunResult:
        """Rebuild the job ``job_id`` whose run ``run_id`` has started, and run it."""
        record = record or self._need_ledger().get(job_id)
        try:
            job = build_job(record.kind, record.params)
        except Exception as exc:  # noqa: BLE001 - recorded as the run's failure
            # A job that cannot be rebuilt is a failed run like any other, recorded.
            failure = step_failure(Step.PREPARE, exc)
            failed = RetryPolicy.never().increment(exc, step=str(Step.PREPARE), allowed=False)
            return self._finish(
                job_id,
                run_id,
                outcome=Outcome.FAILED,
                error=failure,
                attempts=1,
                items=0,
                size=0,
                history=failed.policy.history,
                failures=record.failures,
            )
        return self._execute(job, job_id, run_id, failures=record.failures)

    def run_due(self, *, limit: int | None = None) -> list[RunResult]:
        """Run every waiting job whose time has come, oldest due first, each claimed in turn."""
        results: list[RunResult] = []
        # Each job once: none whose run began since (the runs' times are the ledger's).
        began = self._need_ledger().clock.now()
        while limit is None or len(results) < limit:
            result = self.run_next(not_run_since=began)
            if result is None:
                break
            results.append(result)
        return results

    def run_next(
        self,
        *,
        skip_identities: Collection[str] = (),
        skip_shared_kinds: Collection[str] = (),
        not_run_since: datetime | None = None,
    ) -> RunResult | None:
        """Claim and run the longest-waiting due job (``Ledger.claim_due``); ``None``: none."""
        claimed = self._need_ledger().claim_due(
            skip_identities=skip_identities,
            skip_shared_kinds=skip_shared_kinds,
            not_run_since=not_run_since,
        )
        if claimed is None:
            return None
        record, run_id = claimed
        return self._run_started(record.id, run_id, record)

    # -- internals ---------------------------------------------------------------

    def _need_ledger(self) -> Ledger:
        if self.ledger is None:
            raise JobError("this runner has no ledger")
        return self.ledger

    def _execute(self, job: Job, job_id: str, run_id: int | None, *, failures: int) -> RunResult:
        policy = job.retry_policy() or self.policy
        ctx = JobContext(job_id=job_id, clock=self.clock, logger=self.logger, ledger=self.ledger)
        log_event(self.logger, "jobs.run_started", job_id=job_id, kind=job.kind, name=job.name)

        seen: list[dict[str, Any]] = []

        def written_down(failure: JobFailed, decision: RetryDecision) -> None:
            seen[:] = _history(decision.policy.history)
            if self.ledger is not None and run_id is not None:
                self.ledger.record_failure(
                    run_id, attempts=ctx.attempt, history=_history(decision.policy.history)
                )

        try:
            result = execute(job, ctx, policy=policy, rng=self.rng, on_failure=written_down)
        except BaseException as exc:
            # Interrupted: write it down, leave the job due again at once, re-raise.
            if self.ledger is not None and run_id is not None:
                self.ledger.finish_run(
                    run_id,
                    outcome=Outcome.INTERRUPTED,
                    attempts=ctx.attempt,
                    items=ctx.items,
                    bytes=ctx.bytes,
                    history=seen,
                    error=f"interrupted: {type(exc).__name__}",
                    error_type=type(exc).__name__,
                    job_state=JobState.BACKLOG,
                    next_due=self.clock.now(),
                )
            log_event(self.logger, "jobs.run_interrupted", logging.WARNING, job_id=job_id)
            raise
        return self._finish(
            job_id,
            run_id,
            outcome=result.outcome,
            error=result.error,
            attempts=result.attempts,
            items=result.items,
            size=result.bytes,
            history=result.policy.history,
            failures=failures,
        )

    def _finish(
        self,
        job_id: str,
        run_id: int | None,
        *,
        outcome: Outcome,
        error: JobFailed | None,
        attempts: int,
        items: int,
        size: int,
        history: tuple[RetryRecord, ...],
        failures: int,
    ) -> RunResult:
        state: JobState | None = None
        next_due: datetime | None = None
        reason: str | None = None
        if self.ledger is not None and run_id is not None:
            if outcome.ok:
                state = JobState.SUCCEEDED
            elif outcome == Outcome.DEFERRED:
                # Not a failure: wait like a first failed run, never towards dead.
                state = JobState.BACKLOG
                wait = self.reruns.backoff(1, self.rng)
                next_due = self.clock.now() + timedelta(seconds=wait)
            elif failures + 1 >= self.reruns.attempts:
                state = JobState.DEAD
                reason = f"failed {failures + 1} runs in a row"
            else:
                state = JobState.BACKLOG
                wait = self.reruns.backoff(failures + 1, self.rng)
                next_due = self.clock.now() + timedelta(seconds=wait)
            cause = error.__cause__ if error is not None else None
            self.ledger.finish_run(
                run_id,
                outcome=outcome,
                attempts=attempts,
                items=items,
                bytes=size,
                history=_history(history),
                step=error.step if error else None,
                code=error.code if error else 0,
                error=error.message if error else None,
                error_type=type(cause).__name__ if cause is not None else None,
                transient=error.transient if error else None,
                job_state=state,
                next_due=next_due,
                reason=reason,
            )
        fields: dict[str, Any] = {
            "job_id": job_id,
            "outcome": outcome,
            "code": error.code if error else 0,
            "attempts": attempts,
            "items": items,
            "bytes": size,
        }
        if state is not None:
            fields["state"] = state
        if next_due is not None:
            fields["next_due"] = next_due.isoformat(timespec="seconds")
        level = logging.ERROR if outcome == Outcome.FAILED else logging.INFO
        if outcome == Outcome.DEFERRED:
            level = logging.WARNING
        log_event(self.logger, "jobs.run_finished", level, **fields)
        if state == JobState.DEAD:
            log_event(self.logger, "jobs.parked_dead", logging.ERROR, job_id=job_id, reason=reason)
        return RunResult(
            job_id=job_id,
            outcome=outcome,
            code=error.code if error else 0,
            step=error.step if error else None,
            error=error,
            attempts=attempts,
            items=items,
            bytes=size,
            history=history,
            state=state,
            next_due=next_due,
            run_id=run_id,
        )
