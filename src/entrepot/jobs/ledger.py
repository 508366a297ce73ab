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
one ledger between hosts.  Parameters are stored as JSON, never pickled, and
never hold a secret (:mod:`.params`).

This module holds the jobs; the runs are written by
:class:`~entrepot.jobs.runlog.RunLog`, which :class:`Ledger` extends.
"""

from __future__ import annotations

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

from entrepot.db import (
    ensure_schema,
    groups,
    make_engine,
    masked_url,
    sqlite_url,
    write_transaction,
)
from entrepot.errors import ConfigError, DatabaseUnavailable, InvalidName, JobError, UnknownJob
from entrepot.instances import instance_for
from entrepot.jobs.claims import ClaimLog
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.depth import depth_table, hour_of
from entrepot.jobs.fleet import FleetLog, in_reach
from entrepot.jobs.lifecycle import Outcome
from entrepot.jobs.migrations import MIGRATIONS
from entrepot.jobs.params import check_params
from entrepot.jobs.schema import (
    OPEN,
    WAITING,
    JobRecord,
    JobState,
    RunRecord,
    job_record,
    jobs_table,
    runs_table,
)
from entrepot.jobs.summary import LEDGER_FILE, ledger_file, state_counts
from entrepot.redact import storable_text

__all__ = [
    "FINISHED",
    "LEDGER_FILE",
    "OPEN",
    "WAITING",
    "AmbiguousJob",
    "JobRecord",
    "JobState",
    "Ledger",
    "RunRecord",
    "ledger_url",
]

logger = logging.getLogger(__name__)

#: States a job never leaves: its history may be pruned once old enough.
FINISHED = (JobState.SUCCEEDED, JobState.DROPPED, JobState.SUPERSEDED)


def ledger_url(state_dir: str | os.PathLike[str]) -> sa.URL:
    """The SQLAlchemy URL of the default ledger in ``state_dir``: the file
    :func:`~entrepot.jobs.summary.ledger_file` names, whatever its path holds."""
    return sqlite_url(ledger_file(state_dir))


class AmbiguousJob(UnknownJob, InvalidName):
    """More than one job has an id starting so: a longer prefix names one (a usage
    mistake, exit 2, rather than a job not found)."""


class Ledger(FleetLog, ClaimLog):
    """The history of jobs and runs, in any database SQLAlchemy speaks.

    ``Ledger(url)`` opens (and creates the tables of) a database;
    :meth:`Ledger.open` opens the default SQLite file of a state folder.  Use it
    as a context manager, or call :meth:`close`.  ``instance`` names the
    instance of a fleet writing through it (default ``$ENTREPOT_INSTANCE``,
    else the host name: :mod:`entrepot.instances`) and ``lease`` the seconds
    its runs are claimed for unless its heartbeat renews them (``None``: no lease, see
    :mod:`entrepot.jobs.fleet`).
    """

    def __init__(
        self,
        url: str | sa.URL,
        *,
        clock: Clock = SYSTEM_CLOCK,
        instance: str | None = None,
        lease: float | None = None,
    ) -> None:
        self.clock = clock
        #: When this process opened the ledger: its heartbeat renews only the claims
        #: made since (those of an earlier life of its instance lapse).
        self.opened_at = clock.now()
        self.instance = instance_for(instance)
        self.lease = lease
        #: The state folder that goes with this ledger (where journals are kept), if any.
        self.state_dir: Path | None = None
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
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        instance: str | None = None,
    ) -> Ledger:
        """The SQLite ledger of ``state_dir`` (created, private to its owner, if missing)."""
        Path(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        ledger = cls(ledger_url(state_dir), clock=clock, instance=instance)
        ledger.state_dir = Path(state_dir)
        return ledger

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
        identity: str | None = None,
        shared: bool = False,
    ) -> JobRecord:
        """Record a new job; its parameters must be JSON-ready and hold no secret.

        Jobs with the same ``identity`` are the same piece of work (see
        :meth:`open_jobs`).  A job is this instance's own unless ``shared``:
        any instance of the fleet may run a shared one.
        """
        now = self.clock.now()
        values = {
            "id": job_id,
            "kind": kind,
            "name": storable_text(name or kind),
            "params": check_params(params),
            "identity": identity,
            "scope": None if shared else self.instance,
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
        return job_record(self._row(jobs_table, job_id, f"no job {job_id!r} in the ledger"))

    def open_jobs(self, identity: str) -> list[JobRecord]:
        """The jobs of ``identity`` this instance may run that wait for a run or an
        operator (:data:`OPEN`), oldest first."""
        query = (
            jobs_table.select()
            .where(jobs_table.c.identity == identity, in_reach(self.instance))
            .where(jobs_table.c.state.in_([str(s) for s in OPEN]))
            .order_by(jobs_table.c.id)
        )
        with self._engine.connect() as conn:
            return [job_record(row) for row in conn.execute(query)]

    def find(self, prefix: str) -> JobRecord:
        """The one job whose id is or starts with ``prefix`` (handy on a command line); an
        empty prefix names no job (:class:`~entrepot.errors.InvalidName`), not the only
        job of a ledger that holds one."""
        if not prefix.strip():
            raise InvalidName("a job id cannot be empty")
        try:
            return self.get(prefix)
        except UnknownJob:
            pass
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = jobs_table.select().where(jobs_table.c.id.like(escaped + "%", escape="\\")).limit(2)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) > 1:
            raise AmbiguousJob(
                f"more than one job with an id starting {prefix!r} in the ledger: give more of it"
            )
        if not rows:
            raise UnknownJob(f"no job with an id starting {prefix!r} in the ledger")
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
        """Waiting jobs this instance may run whose time has come, the longest-waiting first."""
        now = now or self.clock.now()
        query = (
            jobs_table.select()
            .where(jobs_table.c.state.in_([str(s) for s in WAITING]), in_reach(self.instance))
            .where(jobs_table.c.next_due <= now)
            .order_by(jobs_table.c.next_due, jobs_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [job_record(row) for row in conn.execute(query)]

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        return state_counts(self.rows)

    def rows(self, sql: str, params: Mapping[str, Any], /) -> list[tuple[Any, ...]]:
        """The rows of one read-only SQL query with ``:name`` parameters, values as stored.

        The queries of :mod:`entrepot.jobs.summary` run through it, the same
        ones that read a SQLite ledger without SQLAlchemy.
        """
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), dict(params))]

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

    # -- retention -----------------------------------------------------------------

    def prune(self, before: datetime, *, batch: int = 1000) -> tuple[int, int]:
        """Delete one batch of old history; return how many runs and jobs went.

        Runs that ended before ``before``, of jobs that are :data:`FINISHED`,
        go first; then finished jobs last changed before ``before`` that have
        no run left.  Jobs that wait (pending, backlog), run or are dead keep
        every run.  Each call is one short transaction of at most ``batch``
        runs and ``batch`` jobs: call it until it returns ``(0, 0)``.
        """
        finished = [str(state) for state in FINISHED]
        old_run = (
            runs_table.c.ended_at < before,
            runs_table.c.outcome != str(Outcome.RUNNING),
            runs_table.c.job_id.in_(
                sa.select(jobs_table.c.id).where(jobs_table.c.state.in_(finished))
            ),
        )
        bare_job = (
            jobs_table.c.state.in_(finished),
            jobs_table.c.updated_at < before,
            ~sa.exists().where(runs_table.c.job_id == jobs_table.c.id),
        )
        with self._tx() as conn:
            # Runs first: a job whose last runs go now is bare for the second batch.
            gone_runs = _delete_batch(conn, runs_table, old_run, batch)
            gone_jobs = _delete_batch(conn, jobs_table, bare_job, batch)
            # A handful of rows per day: the old ones go with the first batch.
            conn.execute(depth_table.delete().where(depth_table.c.hour < hour_of(before)))
        return gone_runs, gone_jobs


def _delete_batch(
    conn: Connection, table: sa.Table, where: Sequence[sa.ColumnElement[bool]], batch: int
) -> int:
    """Delete at most ``batch`` rows of ``table`` matching ``where``, lowest keys first."""
    # Oldest first, by key: the rows to go are found at the front of the index.
    ids = list(
        conn.execute(
            sa.select(table.c.id).where(*where).order_by(table.c.id).limit(batch)
        ).scalars()
    )
    if not ids:
        return 0
    # The conditions again: a row must still match when it goes.
    return sum(
        int(conn.execute(table.delete().where(table.c.id.in_(group), *where)).rowcount)
        for group in groups(ids)
    )
