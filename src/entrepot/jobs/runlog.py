"""The ledger's runs: each run of a job written down as it starts, fails and ends.

:class:`RunLog` is the half of :class:`~entrepot.jobs.Ledger` that writes the
``entrepot_job_runs`` table and moves the job along with each run, always in
the same transaction: a run's row exists before the run does anything, each
failure is written before any wait, and a run's end and its job's new state
are one commit.  A job with an identity is one piece of work: when one of
its runs ends, the other jobs of the same identity still waiting (in the
backlog or dead) are *superseded* by it, so one route never has two.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import groups
from entrepot.errors import UnknownJob
from entrepot.jobs.clock import Clock
from entrepot.jobs.lifecycle import Outcome
from entrepot.jobs.params import check_params
from entrepot.jobs.schema import JobState, RunRecord, jobs_table, run_record, runs_table
from entrepot.logs import log_event
from entrepot.processes import process_gone
from entrepot.redact import storable_text

logger = logging.getLogger("entrepot.jobs.ledger")

#: States a job of the same identity is superseded from when a run of it ends.
SUPERSEDED_FROM = (JobState.BACKLOG, JobState.DEAD)
_STOPPED = "the process running the job stopped"


class RunLog:
    """Writing runs; mixed into :class:`~entrepot.jobs.Ledger`, which provides the engine."""

    clock: Clock
    _engine: Engine
    _host: str
    #: The instance of the fleet this ledger writes for, and the lease (seconds) of
    #: its runs: ``None`` for none (only this host's recovery takes them back).
    instance: str
    lease: float | None

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def start_run(
        self,
        job_id: str,
        *,
        trigger: str = "new",
        claim_from: Sequence[JobState] | None = None,
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> int | None:
        """Write down that a run of ``job_id`` starts now; return the run's id.

        With ``claim_from``, the job is also moved to ``running`` — only if it
        is in one of those states, else nothing is written and ``None`` is
        returned.  Claim and run row are one transaction, so no crash can leave
        a job ``running`` without a run to recover.  ``params`` and ``name``,
        when given, replace the job's (a new run that joins a waiting job
        brings its own settings).
        """
        with self._tx() as conn:
            return self._start_in(conn, job_id, trigger, claim_from, params=params, name=name)

    def _start_in(
        self,
        conn: Connection,
        job_id: str,
        trigger: str,
        claim_from: Sequence[JobState] | None,
        *,
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> int | None:
        """:meth:`start_run` in ``conn``'s transaction."""
        now = self.clock.now()
        changes: dict[str, Any] = {
            "runs": jobs_table.c.runs + 1,
            "updated_at": now,
            "instance": self.instance,
            # Without a lease (a one-shot command) only this host recovers the run.
            "lease_until": now + timedelta(seconds=self.lease) if self.lease else None,
        }
        if params is not None:
            changes["params"] = check_params(params)
        if name is not None:
            changes["name"] = name
        # Write first: on SQLite that takes the write lock before the read.
        bump = jobs_table.update().where(jobs_table.c.id == job_id).values(**changes)
        if claim_from is not None:
            bump = bump.where(jobs_table.c.state.in_([str(s) for s in claim_from])).values(
                state=str(JobState.RUNNING)
            )
        if conn.execute(bump).rowcount != 1:
            if claim_from is not None and _exists(conn, job_id):
                return None
            raise UnknownJob(f"no job {job_id!r} in the ledger")
        number = conn.execute(
            sa.select(jobs_table.c.runs).where(jobs_table.c.id == job_id)
        ).scalar_one()
        result = conn.execute(
            runs_table.insert().values(
                job_id=job_id,
                number=number,
                trigger=trigger,
                host=self._host,
                pid=os.getpid(),
                instance=self.instance,
                started_at=now,
                outcome=str(Outcome.RUNNING),
                attempts=1,
                code=0,
                items=0,
                bytes=0,
                history=[],
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def record_failure(self, run_id: int, *, attempts: int, history: list[dict[str, Any]]) -> None:
        """Write down a failed try of a run that goes on (or is about to end)."""
        with self._tx() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(attempts=attempts, history=history)
            )

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: Outcome,
        attempts: int,
        items: int,
        bytes: int,
        history: list[dict[str, Any]],
        step: str | None = None,
        code: int = 0,
        error: str | None = None,
        error_type: str | None = None,
        transient: bool | None = None,
        job_state: JobState,
        next_due: datetime | None = None,
        reason: str | None = None,
    ) -> RunRecord:
        """End a run and move its job to ``job_state``, in one transaction."""
        now = self.clock.now()
        with self._tx() as conn:
            job_id, number = conn.execute(
                sa.select(runs_table.c.job_id, runs_table.c.number).where(runs_table.c.id == run_id)
            ).one()
            # What the run's row and the job's row both say of how the run ended.
            ending = {"step": step, "code": code, "error": error and storable_text(error)}
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(
                    ended_at=now,
                    outcome=str(outcome),
                    attempts=attempts,
                    error_type=error_type,
                    transient=transient,
                    items=items,
                    bytes=bytes,
                    history=history,
                    **ending,
                )
            )
            failures = jobs_table.c.failures + 1 if outcome == Outcome.FAILED else 0
            if outcome in (Outcome.INTERRUPTED, Outcome.DEFERRED):
                failures = jobs_table.c.failures
            # Only while this run is the job's last: a run whose lease ran out and
            # whose job another instance took since leaves that job alone.
            moved = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.runs == number)
                .values(
                    state=str(job_state),
                    updated_at=now,
                    lease_until=None,
                    failures=failures,
                    next_due=next_due,
                    last_outcome=str(outcome),
                    reason=reason,
                    items=items,
                    bytes=bytes,
                    **{f"last_{key}": value for key, value in ending.items()},
                )
            ).rowcount
            if moved:
                _supersede_others(conn, job_id, now)
        return self.run(run_id)

    def run(self, run_id: int) -> RunRecord:
        """The run ``run_id``; :class:`~entrepot.errors.UnknownJob` if there is none."""
        return run_record(self._row(runs_table, run_id, f"no run {run_id} in the ledger"))

    def _row(self, table: sa.Table, key: object, missing: str) -> sa.Row[Any]:
        """The row of ``table`` whose ``id`` is ``key``; UnknownJob(``missing``) if none."""
        with self._engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.id == key)).first()
        if row is None:
            raise UnknownJob(missing)
        return row

    def runs(self, job_id: str) -> list[RunRecord]:
        """Every run of ``job_id``, oldest first."""
        query = runs_table.select().where(runs_table.c.job_id == job_id).order_by(runs_table.c.id)
        with self._engine.connect() as conn:
            return [run_record(row) for row in conn.execute(query)]

    def recover_interrupted(self) -> list[str]:
        """Put back in the backlog the jobs whose run died with its process on this host.

        A run still marked ``running`` whose process is gone was cut short (a
        crash, a kill): the run is marked ``interrupted`` and its job is due
        again at once.  An interruption does not count as a failed run.
        Returns the ids of the jobs put back.
        """
        query = (
            runs_table.select()
            .where(runs_table.c.outcome == str(Outcome.RUNNING))
            .where(runs_table.c.host == self._host)
        )
        with self._engine.connect() as conn:
            stale = [run_record(row) for row in conn.execute(query) if _gone(row.pid)]
        return [run.job_id for run in stale if self._put_back(run)]

    def recover_expired(self) -> list[str]:
        """Put back in the backlog the jobs whose instance stopped renewing their lease.

        An instance of a fleet renews the lease of the jobs it runs with each
        heartbeat; one that died (on any host) or hangs stops, and once the
        lease has run out any instance may do this: the run is marked
        ``interrupted`` and its job is due again at once, for whichever
        instance claims it next.  Returns the ids of the jobs put back.
        """
        now = self.clock.now()
        jobs, runs = jobs_table.c, runs_table.c
        query = (
            sa.select(runs_table)
            .join(jobs_table, jobs.id == runs.job_id)
            .where(jobs.state == str(JobState.RUNNING), jobs.lease_until < now)
            .where(runs.number == jobs.runs, runs.outcome == str(Outcome.RUNNING))
        )
        with self._engine.connect() as conn:
            lapsed = [run_record(row) for row in conn.execute(query)]
        return [run.job_id for run in lapsed if self._put_back(run, lapsed=now)]

    def _put_back(self, run: RunRecord, *, lapsed: datetime | None = None) -> bool:
        now = self.clock.now()
        why = _STOPPED if lapsed is None else f"the lease of instance {run.instance} ran out"
        job = jobs_table.c
        # Only while this run is the job's last one and, for a lease, still lapsed.
        current = [job.id == run.job_id, job.state == str(JobState.RUNNING), job.runs == run.number]
        if lapsed is not None:
            current.append(job.lease_until < lapsed)
        with self._tx() as conn:
            changed = conn.execute(
                jobs_table.update()
                .where(*current)
                .values(
                    state=str(JobState.BACKLOG),
                    next_due=now,
                    updated_at=now,
                    lease_until=None,
                    last_outcome=str(Outcome.INTERRUPTED),
                    last_error=why,
                )
            ).rowcount
            if changed or lapsed is None:  # a renewed lease keeps its run going
                conn.execute(
                    runs_table.update()
                    .where(runs_table.c.id == run.id)
                    .where(runs_table.c.outcome == str(Outcome.RUNNING))
                    .values(outcome=str(Outcome.INTERRUPTED), ended_at=now, error=why)
                )
            if changed:
                _supersede_others(conn, run.job_id, now)
        if changed:
            log_event(logger, "jobs.recovered", job_id=run.job_id, pid=run.pid,
                      instance=run.instance or "-", why=why)  # fmt: skip
        return bool(changed)


def _supersede_others(conn: Connection, job_id: str, now: datetime) -> list[str]:
    """Mark the other waiting jobs of ``job_id``'s identity (and scope) superseded by it."""
    found = conn.execute(
        sa.select(jobs_table.c.identity, jobs_table.c.scope).where(jobs_table.c.id == job_id)
    ).first()
    if found is None or found.identity is None:
        return []
    # The same route on another instance's own spool is another piece of work.
    scope = jobs_table.c.scope
    others = sa.select(jobs_table.c.id).where(
        jobs_table.c.identity == found.identity,
        scope.is_(None) if found.scope is None else scope == found.scope,
        jobs_table.c.id != job_id,
        jobs_table.c.state.in_([str(s) for s in SUPERSEDED_FROM]),
    )
    ids = list(conn.execute(others).scalars())
    if ids:
        for group in groups(ids):
            conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id.in_(group))
                .where(jobs_table.c.state.in_([str(s) for s in SUPERSEDED_FROM]))
                .values(
                    state=str(JobState.SUPERSEDED),
                    updated_at=now,
                    reason=f"superseded by job {job_id}, a later run of the same work",
                )
            )
        for other in ids:
            log_event(logger, "jobs.superseded", job_id=other, by=job_id)
    return ids


def _exists(conn: Connection, job_id: str) -> bool:
    query = sa.select(jobs_table.c.id).where(jobs_table.c.id == job_id)
    return conn.execute(query).first() is not None


def _gone(pid: int) -> bool:
    """True when the process that ran a job has ended (this process never has)."""
    return pid != os.getpid() and process_gone(pid)
