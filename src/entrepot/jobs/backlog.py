"""The backlog: the ledger's jobs that wait to be run again, and what an operator does with them.

A job lands here when a run fails after its in-run retries (``backlog``,
due again after the between-runs back-off), when its process died in the
middle of a run (``backlog``, due at once), or when it failed too many runs
in a row (``dead``: kept, shown, never re-run on its own).  From here a job
is re-run — now, or with every other due job — or dropped with a reason.
Every re-run is a recorded run; a dropped job stays in the ledger with its
reason.  Nothing leaves the backlog silently.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass

from entrepot.errors import JobError
from entrepot.jobs.ledger import WAITING, JobRecord, JobState, Ledger, RunRecord
from entrepot.jobs.runner import Runner, RunResult
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: States shown by the backlog: waiting jobs and dead ones.
BACKLOG_STATES = (JobState.PENDING, JobState.BACKLOG, JobState.DEAD)


@dataclass(frozen=True)
class JobDetail:
    """A job and all its runs, oldest first."""

    job: JobRecord
    runs: builtins.list[RunRecord]


class Backlog:
    """Operator actions on the waiting and dead jobs of a ledger.

    ``runner`` re-runs the jobs (default: a :class:`Runner` on the same ledger
    with default policies).  The kinds of the jobs must be known, see
    :mod:`entrepot.jobs.kinds`.
    """

    def __init__(self, ledger: Ledger, runner: Runner | None = None) -> None:
        self.ledger = ledger
        self.runner = runner or Runner(ledger)
        if self.runner.ledger is not ledger:
            raise ValueError("the backlog's runner must use the backlog's ledger")

    def recover(self) -> list[str]:
        """Put back jobs whose process died mid-run (see :meth:`Ledger.recover_interrupted`)."""
        return self.ledger.recover_interrupted()

    def list(self, *, dead: bool = True) -> list[JobRecord]:
        """Waiting jobs (and dead ones unless ``dead=False``), soonest due first, dead last."""
        states = BACKLOG_STATES if dead else WAITING
        jobs = self.ledger.jobs(states=states)
        far = self.ledger.clock.now().replace(year=9999)
        return sorted(jobs, key=lambda j: (j.state == JobState.DEAD, j.next_due or far, j.id))

    def due(self) -> builtins.list[JobRecord]:
        """Waiting jobs whose time has come."""
        return self.ledger.due(self.ledger.clock.now())

    def show(self, job_id: str) -> JobDetail:
        """A job (found by its id or a unique prefix) with its runs."""
        job = self.ledger.find(job_id)
        return JobDetail(job=job, runs=self.ledger.runs(job.id))

    def retry(self, job_id: str) -> RunResult:
        """Re-run one waiting or dead job now, whether due or not."""
        job = self.ledger.find(job_id)
        return self.runner.rerun(job.id, trigger="retry")

    def retry_due(self) -> builtins.list[RunResult]:
        """Re-run every waiting job that is due (after recovering interrupted ones)."""
        self.recover()
        return self.runner.run_due()

    def retry_all(self) -> builtins.list[RunResult]:
        """Re-run every waiting job of this instance (and every shared one) now, due or
        not; dead jobs only by :meth:`retry`."""
        self.recover()
        results = []
        for job in self.ledger.jobs(states=WAITING):
            if job.scope not in (None, self.ledger.instance):
                continue  # another instance's own: its spool is on that host
            try:
                results.append(self.runner.rerun(job.id, trigger="retry", from_states=WAITING))
            except JobError as exc:
                log_event(logger, "jobs.skipped", job_id=job.id, reason=str(exc))
        return results

    def drop(self, job_id: str, reason: str) -> JobRecord:
        """Give up a waiting or dead job, keeping it in the ledger with ``reason``."""
        reason = reason.strip()
        if not reason:
            raise ValueError("dropping a job needs a reason")
        job = self.ledger.find(job_id)
        record = self.ledger.set_state(
            job.id, JobState.DROPPED, reason=reason, from_states=BACKLOG_STATES
        )
        log_event(logger, "jobs.dropped", logging.WARNING, job_id=job.id, reason=reason)
        return record
