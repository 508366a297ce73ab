"""The one job lifecycle: prepare → produce → send → cleanup.

A job subclasses :class:`Job` and fills in the steps:

``prepare(ctx)``
    optional; get ready (check folders, open what must be open).
``produce(ctx) -> int``
    make or gather the items to send and return how many there are.  Zero
    ends the run successfully without calling ``send``.
``send(ctx)``
    deliver the items; report bytes with ``ctx.add_bytes(n)``.
``cleanup(ctx, error)``
    optional; always called once at the end, with the :class:`JobFailed`
    that ended the run or ``None``.

A run ends ``succeeded``, ``empty`` (nothing to send), ``failed``,
``deferred`` (still failing with an error the job :meth:`Job.defers` — by
default a remote lock — after its retries: not a failure, just "later") or
``interrupted`` (Ctrl-C, the process stopped).

A step that raises is retried — the same step, after the policy's back-off —
when the step is in :attr:`Job.retry_steps` and the policy deems the error
worth it; a retried step must therefore be safe to call again (a ``send``
typically resumes where it stopped).  When a step fails for good the run
ends with a :class:`~entrepot.errors.JobFailed` carrying the step, a code and
the original error as ``__cause__``.

Codes are the step's hundred plus the error's ``subcode`` attribute (0 to 99)
when it has one: prepare 100, produce 200, send 300, cleanup 400.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from entrepot.errors import JobFailed, RemoteLocked, is_transient
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.retry import DEFAULT_RETRY, RetryDecision, RetryPolicy
from entrepot.jobs.states import Outcome as Outcome  # re-exported: the outcome of a run
from entrepot.logs import log_event

if TYPE_CHECKING:
    from entrepot.jobs.ledger import Ledger

logger = logging.getLogger(__name__)


class Step(StrEnum):
    PREPARE = "prepare"
    PRODUCE = "produce"
    SEND = "send"
    CLEANUP = "cleanup"

    @property
    def code(self) -> int:
        """The step's error code; an error's subcode (0-99) is added to it."""
        return STEP_CODES[self]


STEP_CODES: Mapping[Step, int] = {
    Step.PREPARE: 100,
    Step.PRODUCE: 200,
    Step.SEND: 300,
    Step.CLEANUP: 400,
}


def error_code(step: Step, error: BaseException) -> int:
    """The step's code plus the error's ``subcode`` (kept within 0-99)."""
    subcode = getattr(error, "subcode", 0)
    if not isinstance(subcode, int) or isinstance(subcode, bool):
        subcode = 0
    return step.code + subcode % 100


def step_failure(step: Step, error: BaseException) -> JobFailed:
    """Wrap ``error`` as the failure of ``step``, keeping it as the cause."""
    failure = JobFailed(
        f"{step} failed: {error}" if str(error) else f"{step} failed: {type(error).__name__}",
        step=str(step),
        code=error_code(step, error),
        transient=is_transient(error),
    )
    failure.__cause__ = error
    return failure


@dataclass
class JobContext:
    """What a running job can see and report; one per run."""

    job_id: str
    clock: Clock = SYSTEM_CLOCK
    logger: logging.Logger = logger
    attempt: int = 1
    """1 for the first try of the run, growing with each retry."""
    items: int = 0
    """Items counted by ``produce``."""
    bytes: int = 0
    """Bytes reported by ``send`` through :meth:`add_bytes`."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free room for the job to keep things between its steps."""
    ledger: Ledger | None = None
    """The ledger the run is recorded in (None without one): where a job records
    what it did to each file (:mod:`entrepot.provenance`)."""

    def add_bytes(self, count: int) -> None:
        self.bytes += count


class Job:
    """Base class of every job; subclass it and write ``produce`` and ``send``.

    A job that should survive a restart (be re-run from the backlog) has a
    :attr:`kind` registered with :func:`entrepot.jobs.register_job_kind` and
    returns JSON-ready :meth:`params` from which that kind's factory rebuilds
    it.  Parameters are stored in the ledger as they are: never put a password
    in them — name a configured target instead.
    """

    #: Registry name used to rebuild the job from its parameters.
    kind: ClassVar[str] = "job"
    #: Steps that may be retried within a run.
    retry_steps: ClassVar[frozenset[Step]] = frozenset({Step.PREPARE, Step.PRODUCE, Step.SEND})

    @property
    def name(self) -> str:
        """A short label for tables and logs (the kind by default)."""
        return self.kind

    def params(self) -> dict[str, Any]:
        """The JSON-ready parameters that rebuild this job (see :mod:`.kinds`)."""
        return {}

    def identity(self) -> str | None:
        """What makes two jobs the same piece of work (at most 64 characters), or ``None``.

        A new run of a job whose identity matches one still waiting in the
        ledger (pending, in the backlog or dead) is recorded as a run of that
        job rather than as a new one, and when a run ends the other waiting
        jobs of its identity are superseded: a shipping route never has two
        jobs waiting.  ``None`` (the default): every job is its own.
        """
        return None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Job:
        """Rebuild a job from :meth:`params`; the default passes them as keywords."""
        return cls(**params)

    def defers(self, error: BaseException) -> bool:
        """Whether ``error``, once retries are spent, means "later" rather than "failed".

        By default a remote lock (:class:`~entrepot.errors.RemoteLocked`) does:
        someone else is busy there, which is nobody's fault.  A deferred job
        waits in the backlog without counting a failed run.
        """
        return isinstance(error, RemoteLocked)

    def retry_policy(self) -> RetryPolicy | None:
        """This job's own in-run retry policy, or ``None`` for the runner's."""
        return None

    def prepare(self, ctx: JobContext) -> None:
        """Get ready; optional."""

    def produce(self, ctx: JobContext) -> int:
        """Gather the items and return their number."""
        raise NotImplementedError

    def send(self, ctx: JobContext) -> None:
        """Deliver the items gathered by :meth:`produce`."""
        raise NotImplementedError

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        """Release what the run holds; always called, with the error if any."""


@dataclass(frozen=True)
class LifecycleResult:
    """The result of one pass through the lifecycle (retries included)."""

    outcome: Outcome
    error: JobFailed | None
    attempts: int
    items: int
    bytes: int
    policy: RetryPolicy
    """The policy after the run: its history lists every failed try."""
    cleanup_error: JobFailed | None = None
    """A cleanup failure that came after an earlier failure (the earlier one wins)."""

    @property
    def code(self) -> int:
        return self.error.code if self.error else 0


def _count(produced: object) -> int:
    """The item count returned by ``produce`` (``None`` counts as nothing)."""
    if produced is None:
        return 0
    if isinstance(produced, bool) or not isinstance(produced, int):
        raise TypeError(f"produce() must return a number of items, not {type(produced).__name__}")
    return max(produced, 0)


#: Called after each failure, before any wait: ``(failure, decision)``.
FailureHook = Callable[[JobFailed, RetryDecision], None]


def execute(
    job: Job,
    ctx: JobContext,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    rng: random.Random | None = None,
    on_failure: FailureHook | None = None,
) -> LifecycleResult:
    """Run ``job`` through its steps under ``policy``; never raises for a step failure.

    ``on_failure`` sees every failure before the runner waits or gives up, so
    it can be written down first.  ``BaseException``\\s that are not
    ``Exception`` (Ctrl-C, ``SystemExit``) still reach ``cleanup`` and then
    propagate.
    """
    clock = ctx.clock
    started = clock.monotonic()
    error: JobFailed | None = None
    cleanup_error: JobFailed | None = None
    outcome = Outcome.SUCCEEDED

    current = Step.PREPARE

    def attempt(step: Step, call: Callable[[], Any]) -> Any:
        nonlocal policy, current
        current = step
        while True:
            try:
                return call()
            except Exception as exc:
                failure = step_failure(step, exc)
                decision = policy.increment(
                    exc,
                    step=str(step),
                    elapsed=clock.monotonic() - started,
                    rng=rng,
                    allowed=step in job.retry_steps,
                )
                policy = decision.policy
                log_event(
                    ctx.logger,
                    "jobs.step_failed",
                    logging.WARNING,
                    job_id=ctx.job_id,
                    step=step,
                    code=failure.code,
                    attempt=ctx.attempt,
                    error=failure.message,
                    retry=decision.retry,
                    delay=round(decision.delay, 3),
                )
                if on_failure is not None:
                    on_failure(failure, decision)
                if not decision.retry:
                    raise failure from exc
                clock.sleep(decision.delay)
                ctx.attempt += 1

    interrupted: BaseException | None = None
    try:
        attempt(Step.PREPARE, lambda: job.prepare(ctx))
        ctx.items = attempt(Step.PRODUCE, lambda: _count(job.produce(ctx)))
        if ctx.items == 0:
            outcome = Outcome.EMPTY
            log_event(ctx.logger, "jobs.nothing_to_send", job_id=ctx.job_id)
        else:
            attempt(Step.SEND, lambda: job.send(ctx))
    except JobFailed as failed:
        error, outcome = failed, Outcome.FAILED
        if failed.__cause__ is not None and job.defers(failed.__cause__):
            outcome = Outcome.DEFERRED
    except BaseException as exc:  # noqa: BLE001 - re-raised after cleanup
        # Ctrl-C or SystemExit: let cleanup release what it holds, then re-raise.
        interrupted = exc
        error, outcome = step_failure(current, exc), Outcome.INTERRUPTED
    try:
        job.cleanup(ctx, error)
    except Exception as exc:  # noqa: BLE001 - any cleanup failure is recorded
        failure = step_failure(Step.CLEANUP, exc)
        log_event(
            ctx.logger,
            "jobs.cleanup_failed",
            logging.ERROR,
            job_id=ctx.job_id,
            code=failure.code,
            error=failure.message,
        )
        decision = policy.increment(exc, step=str(Step.CLEANUP), rng=rng, allowed=False)
        policy = decision.policy
        if on_failure is not None:
            on_failure(failure, decision)
        if error is None:
            error, outcome = failure, Outcome.FAILED
        else:
            cleanup_error = failure
    if interrupted is not None:
        raise interrupted
    return LifecycleResult(
        outcome=outcome,
        error=error,
        attempts=ctx.attempt,
        items=ctx.items,
        bytes=ctx.bytes,
        policy=policy,
        cleanup_error=cleanup_error,
    )
