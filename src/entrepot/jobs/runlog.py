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
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.errors import UnknownJob
from entrepot.jobs.clock import Clock
from entrepot.jobs.lifecycle import Outcome
from entrepot.jobs.params import check_params
from entrepot.jobs.schema import JobState, RunRecord, jobs_table, run_record, runs_table
from entrepot.logs import log_event
from entrepot.processes import process_gone

logger = logging.getLogger("entrepot.jobs.ledger")

#: States a job of the same identity is superseded from when a run of it ends.
SUPERSEDED_FROM = (JobState.BACKLOG, JobState.DEAD)
_STOPPED = "the process running the job stopped"


class RunLog:
    """Writing runs; mixed into :class:`~entrepot.jobs.Ledger`, which provides the engine."""

    clock: Clock
    _engine: Engine
    _host: str

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
        now = self.clock.now()
        changes: dict[str, Any] = {"runs": jobs_table.c.runs + 1, "updated_at": now}
        if params is not None:
            changes["params"] = check_params(params)
        if name is not None:
            changes["name"] = name
        with self._tx() as conn:
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
            job_id = conn.execute(
                sa.select(runs_table.c.job_id).where(runs_table.c.id == run_id)
            ).scalar_one()
            # What the run's row and the job's row both say of how the run ended.
            ending = {"step": step, "code": code, "error": error}
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
            conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id)
                .values(
                    state=str(job_state),
                    updated_at=now,
                    failures=failures,
                    next_due=next_due,
                    last_outcome=str(outcome),
                    reason=reason,
                    items=items,
                    bytes=bytes,
                    **{f"last_{key}": value for key, value in ending.items()},
                )
            )
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

    def _put_back(self, run: RunRecord) -> bool:
        now = self.clock.now()
        with self._tx() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run.id)
                .where(runs_table.c.outcome == str(Outcome.RUNNING))
                .values(outcome=str(Outcome.INTERRUPTED), ended_at=now, error=_STOPPED)
            )
            changed = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == run.job_id)
                .where(jobs_table.c.state == str(JobState.RUNNING))
                .values(
                    state=str(JobState.BACKLOG),
                    next_due=now,
                    updated_at=now,
                    last_outcome=str(Outcome.INTERRUPTED),
                    last_error=_STOPPED,
                )
            ).rowcount
            if changed:
                _supersede_others(conn, run.job_id, now)
        if changed:
            log_event(logger, "jobs.recovered", job_id=run.job_id, pid=run.pid)
        return bool(changed)


def _supersede_others(conn: Connection, job_id: str, now: datetime) -> list[str]:
    """Mark the other waiting jobs of ``job_id``'s identity superseded by it."""
    identity = conn.execute(
        sa.select(jobs_table.c.identity).where(jobs_table.c.id == job_id)
    ).scalar()
    if identity is None:
        return []
    others = sa.select(jobs_table.c.id).where(
        jobs_table.c.identity == identity,
        jobs_table.c.id != job_id,
        jobs_table.c.state.in_([str(s) for s in SUPERSEDED_FROM]),
    )
    ids = list(conn.execute(others).scalars())
    if ids:
        conn.execute(
            jobs_table.update()
            .where(jobs_table.c.id.in_(ids))
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
