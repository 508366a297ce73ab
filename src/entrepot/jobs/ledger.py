"""The ledger: every job and every run of it, in SQLite or PostgreSQL.

Two tables.  ``jobs`` holds one row per job — its kind, its JSON parameters,
its state, when it is next due and how its last run ended.  ``runs`` holds one
row per run: start, end, outcome, tries, the failing step, code and error,
items and bytes, and the history of every failed try.  The runner writes a
run's row *before* the run starts and each failure as it happens, so a crash
never loses what was known.

By default the ledger is a SQLite file in the state folder, in WAL mode (many
readers, one writer, no reader ever blocked) with full fsync on commit; any
SQLAlchemy URL works too, e.g. ``postgresql+psycopg://user@host/db`` to share
one ledger between hosts.  Parameters are stored as JSON, never pickled.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import Migration, ensure_schema, make_engine, masked_url, write_transaction
from entrepot.errors import ConfigError, DatabaseUnavailable, JobError, UnknownJob
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.lifecycle import Outcome
from entrepot.jobs.schema import (
    WAITING,
    JobRecord,
    JobState,
    RunRecord,
    job_record,
    jobs_table,
    metadata,
    run_record,
    runs_table,
)
from entrepot.logs import log_event
from entrepot.processes import process_gone

__all__ = [
    "LEDGER_FILE",
    "WAITING",
    "JobRecord",
    "JobState",
    "Ledger",
    "RunRecord",
    "ledger_url",
]

logger = logging.getLogger(__name__)

#: File name of the default SQLite ledger inside the state folder.
LEDGER_FILE = "ledger.sqlite3"


#: The ledger's schema, version by version (see :func:`entrepot.db.ensure_schema`).
MIGRATIONS = (
    Migration(1, "jobs and runs", lambda conn: metadata.create_all(conn, checkfirst=True)),
)


def ledger_url(state_dir: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of the default ledger in ``state_dir``."""
    return f"sqlite:///{Path(state_dir).absolute() / LEDGER_FILE}"


class Ledger:
    """The history of jobs and runs, in any database SQLAlchemy speaks.

    ``Ledger(url)`` opens (and creates the tables of) a database;
    :meth:`Ledger.open` opens the default SQLite file of a state folder.  Use it
    as a context manager, or call :meth:`close`.
    """

    def __init__(self, url: str | sa.URL, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._engine: Engine = make_engine(url, purpose="ledger")
        self._host = socket.gethostname()
        try:
            ensure_schema(self._engine, "ledger", MIGRATIONS)
        except DatabaseUnavailable:
            self._engine.dispose()
            raise
        except sa.exc.DBAPIError as exc:
            self._engine.dispose()
            raise ConfigError(f"cannot open the ledger {self.url}: {exc.orig}") from exc

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str], *, clock: Clock = SYSTEM_CLOCK) -> Ledger:
        """The SQLite ledger of ``state_dir`` (created, private to its owner, if missing)."""
        Path(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(ledger_url(state_dir), clock=clock)

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return masked_url(self._engine.url)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with write_transaction(self._engine) as conn:
            yield conn

    # -- jobs ------------------------------------------------------------------

    def add_job(
        self,
        job_id: str,
        kind: str,
        params: Mapping[str, Any],
        *,
        name: str | None = None,
        state: JobState = JobState.PENDING,
        next_due: datetime | None = None,
    ) -> JobRecord:
        """Record a new job; its parameters must be JSON-ready."""
        try:
            json.dumps(dict(params), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise JobError(f"job parameters must be JSON-ready: {exc}") from None
        now = self.clock.now()
        values = {
            "id": job_id,
            "kind": kind,
            "name": name or kind,
            "params": dict(params),
            "state": str(state),
            "created_at": now,
            "updated_at": now,
            "runs": 0,
            "failures": 0,
            "next_due": next_due if next_due is not None or state != JobState.PENDING else now,
            "items": 0,
            "bytes": 0,
        }
        try:
            with self._tx() as conn:
                conn.execute(jobs_table.insert().values(**values))
        except sa.exc.IntegrityError:
            raise JobError(f"job {job_id} is already in the ledger") from None
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        """The job ``job_id``; :class:`~entrepot.errors.UnknownJob` if there is none."""
        with self._engine.connect() as conn:
            row = conn.execute(jobs_table.select().where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise UnknownJob(f"no job {job_id!r} in the ledger")
        return job_record(row)

    def find(self, prefix: str) -> JobRecord:
        """The one job whose id is or starts with ``prefix`` (handy on a command line)."""
        try:
            return self.get(prefix)
        except UnknownJob:
            pass
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = jobs_table.select().where(jobs_table.c.id.like(escaped + "%", escape="\\")).limit(2)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) != 1:
            what = "no job" if not rows else "more than one job"
            raise UnknownJob(f"{what} with an id starting {prefix!r} in the ledger")
        return job_record(rows[0])

    def jobs(
        self,
        *,
        states: Iterable[JobState | str] | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally only in ``states`` and of ``kind``."""
        query = jobs_table.select().order_by(jobs_table.c.id.desc())
        if states is not None:
            query = query.where(jobs_table.c.state.in_([str(JobState(s)) for s in states]))
        if kind is not None:
            query = query.where(jobs_table.c.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [job_record(row) for row in conn.execute(query)]

    def due(self, now: datetime | None = None, *, limit: int | None = None) -> list[JobRecord]:
        """Waiting jobs whose time has come, the longest-waiting first."""
        now = now or self.clock.now()
        query = (
            jobs_table.select()
            .where(jobs_table.c.state.in_([str(s) for s in WAITING]))
            .where(jobs_table.c.next_due <= now)
            .order_by(jobs_table.c.next_due, jobs_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [job_record(row) for row in conn.execute(query)]

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        query = sa.select(jobs_table.c.state, sa.func.count()).group_by(jobs_table.c.state)
        with self._engine.connect() as conn:
            found = {JobState(state): count for state, count in conn.execute(query)}
        return {state: found.get(state, 0) for state in JobState}

    def claim(self, job_id: str, from_states: Sequence[JobState]) -> bool:
        """Move the job to ``running`` if it is in ``from_states``; False if it was not.

        A single conditional UPDATE, so two processes (or hosts sharing a
        PostgreSQL ledger) never both claim one job.
        """
        with self._tx() as conn:
            result = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id)
                .where(jobs_table.c.state.in_([str(s) for s in from_states]))
                .values(state=str(JobState.RUNNING), updated_at=self.clock.now())
            )
        return bool(result.rowcount == 1)

    def set_state(
        self,
        job_id: str,
        state: JobState,
        *,
        reason: str | None = None,
        next_due: datetime | None = None,
        from_states: Sequence[JobState] | None = None,
    ) -> JobRecord:
        """Move a job to ``state`` (only from ``from_states`` when given)."""
        query = jobs_table.update().where(jobs_table.c.id == job_id)
        if from_states is not None:
            query = query.where(jobs_table.c.state.in_([str(s) for s in from_states]))
        values: dict[str, Any] = {"state": str(state), "updated_at": self.clock.now()}
        if reason is not None:
            values["reason"] = reason
        if state in WAITING:
            values["next_due"] = next_due or self.clock.now()
        with self._tx() as conn:
            changed = conn.execute(query.values(**values)).rowcount
        record = self.get(job_id)
        if changed != 1:
            allowed = ", ".join(str(s) for s in from_states or ())
            raise JobError(
                f"job {job_id} is {record.state}; only {allowed} jobs can become {state}"
            )
        return record

    # -- runs ------------------------------------------------------------------

    def start_run(
        self,
        job_id: str,
        *,
        trigger: str = "new",
        claim_from: Sequence[JobState] | None = None,
    ) -> int | None:
        """Write down that a run of ``job_id`` starts now; return the run's id.

        With ``claim_from``, the job is also moved to ``running`` — only if it
        is in one of those states, else nothing is written and ``None`` is
        returned.  Claim and run row are one transaction, so no crash can leave
        a job ``running`` without a run to recover.
        """
        now = self.clock.now()
        with self._tx() as conn:
            # Write first: on SQLite that takes the write lock before the read.
            bump = (
                jobs_table.update()
                .where(jobs_table.c.id == job_id)
                .values(runs=jobs_table.c.runs + 1, updated_at=now)
            )
            if claim_from is not None:
                bump = bump.where(jobs_table.c.state.in_([str(s) for s in claim_from])).values(
                    state=str(JobState.RUNNING)
                )
            bumped = conn.execute(bump).rowcount
            if bumped != 1:
                if claim_from is not None and self._exists(conn, job_id):
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

    @staticmethod
    def _exists(conn: Connection, job_id: str) -> bool:
        query = sa.select(jobs_table.c.id).where(jobs_table.c.id == job_id)
        return conn.execute(query).first() is not None

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
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(
                    ended_at=now,
                    outcome=str(outcome),
                    attempts=attempts,
                    step=step,
                    code=code,
                    error=error,
                    error_type=error_type,
                    transient=transient,
                    items=items,
                    bytes=bytes,
                    history=history,
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
                    last_step=step,
                    last_code=code,
                    last_error=error,
                    reason=reason,
                    items=items,
                    bytes=bytes,
                )
            )
        return self.run(run_id)

    def run(self, run_id: int) -> RunRecord:
        with self._engine.connect() as conn:
            row = conn.execute(runs_table.select().where(runs_table.c.id == run_id)).first()
        if row is None:
            raise UnknownJob(f"no run {run_id} in the ledger")
        return run_record(row)

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
        recovered = []
        for run in stale:
            now = self.clock.now()
            with self._tx() as conn:
                conn.execute(
                    runs_table.update()
                    .where(runs_table.c.id == run.id)
                    .where(runs_table.c.outcome == str(Outcome.RUNNING))
                    .values(
                        outcome=str(Outcome.INTERRUPTED),
                        ended_at=now,
                        error="the process running the job stopped",
                    )
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
                        last_error="the process running the job stopped",
                    )
                ).rowcount
            if changed:
                recovered.append(run.job_id)
                log_event(logger, "jobs.recovered", job_id=run.job_id, pid=run.pid)
        return recovered


def _gone(pid: int) -> bool:
    """True when the process that ran a job has ended (this process never has)."""
    return pid != os.getpid() and process_gone(pid)
