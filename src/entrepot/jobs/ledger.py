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
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.errors import ConfigError, JobError, UnknownJob
from entrepot.jobs.clock import SYSTEM_CLOCK, Clock
from entrepot.jobs.lifecycle import Outcome
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: File name of the default SQLite ledger inside the state folder.
LEDGER_FILE = "ledger.sqlite3"


class JobState(StrEnum):
    """Where a job stands."""

    PENDING = "pending"
    """Recorded, never run yet; due at ``next_due``."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    BACKLOG = "backlog"
    """Failed; waits to be re-run at ``next_due``."""
    DEAD = "dead"
    """Failed too many runs; waits for an operator (retry or drop)."""
    DROPPED = "dropped"
    """Given up by an operator, with a reason."""


#: States of jobs that still wait to be (re-)run.
WAITING = (JobState.PENDING, JobState.BACKLOG)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger stores timezone-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

jobs_table = sa.Table(
    "entrepot_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("runs", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_due", UTCDateTime),
    sa.Column("last_outcome", sa.String(16)),
    sa.Column("last_step", sa.String(16)),
    sa.Column("last_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("items", sa.Integer, nullable=False, default=0),
    sa.Column("bytes", sa.BigInteger, nullable=False, default=0),
    sa.Index("ix_entrepot_jobs_state_due", "state", "next_due"),
)

runs_table = sa.Table(
    "entrepot_job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), sa.ForeignKey("entrepot_jobs.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("step", sa.String(16)),
    sa.Column("code", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("error_type", sa.String(100)),
    sa.Column("transient", sa.Boolean),
    sa.Column("items", sa.Integer, nullable=False, default=0),
    sa.Column("bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Index("ix_entrepot_job_runs_job", "job_id", "number"),
)


@dataclass(frozen=True)
class JobRecord:
    """One job as the ledger knows it."""

    id: str
    kind: str
    name: str
    params: dict[str, Any]
    state: JobState
    created_at: datetime
    updated_at: datetime
    runs: int
    failures: int
    """Failed runs in a row (reset by a success)."""
    next_due: datetime | None
    last_outcome: Outcome | None
    last_step: str | None
    last_code: int | None
    last_error: str | None
    reason: str | None
    """Why it is dead or dropped."""
    items: int
    bytes: int


@dataclass(frozen=True)
class RunRecord:
    """One run of a job."""

    id: int
    job_id: str
    number: int
    trigger: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    outcome: Outcome
    attempts: int
    step: str | None
    code: int
    error: str | None
    error_type: str | None
    transient: bool | None
    items: int
    bytes: int
    history: list[dict[str, Any]]

    @property
    def duration(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def _job(row: sa.Row[Any]) -> JobRecord:
    m = row._mapping
    return JobRecord(
        id=m["id"],
        kind=m["kind"],
        name=m["name"],
        params=dict(m["params"]),
        state=JobState(m["state"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        runs=m["runs"],
        failures=m["failures"],
        next_due=m["next_due"],
        last_outcome=Outcome(m["last_outcome"]) if m["last_outcome"] else None,
        last_step=m["last_step"],
        last_code=m["last_code"],
        last_error=m["last_error"],
        reason=m["reason"],
        items=m["items"],
        bytes=m["bytes"],
    )


def _run(row: sa.Row[Any]) -> RunRecord:
    m = row._mapping
    return RunRecord(
        id=m["id"],
        job_id=m["job_id"],
        number=m["number"],
        trigger=m["trigger"],
        host=m["host"],
        pid=m["pid"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        outcome=Outcome(m["outcome"]),
        attempts=m["attempts"],
        step=m["step"],
        code=m["code"],
        error=m["error"],
        error_type=m["error_type"],
        transient=m["transient"],
        items=m["items"],
        bytes=m["bytes"],
        history=list(m["history"]),
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a failure recorded is a failure that survives a power cut.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


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
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"not a database URL: {exc}") from None
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options["pool_pre_ping"] = True
        self._engine: Engine = sa.create_engine(parsed, **options)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        self._host = socket.gethostname()
        self._create_tables()

    def _create_tables(self) -> None:
        # Processes opening a new ledger together race to create its tables;
        # the loser sees "already exists" and simply finds them on a retry.
        for retry in range(4):
            try:
                metadata.create_all(self._engine)
                return
            except sa.exc.DBAPIError as exc:
                if retry == 3 or isinstance(exc, sa.exc.InterfaceError):
                    self._engine.dispose()
                    raise ConfigError(f"cannot open the ledger {self.url}: {exc.orig}") from exc
                time.sleep(0.05 * (retry + 1))

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str], *, clock: Clock = SYSTEM_CLOCK) -> Ledger:
        """The SQLite ledger of ``state_dir`` (created, private to its owner, if missing)."""
        Path(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(ledger_url(state_dir), clock=clock)

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._engine.url.render_as_string(hide_password=True)

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
        with self._engine.begin() as conn:
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
        return _job(row)

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
        return _job(rows[0])

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
            return [_job(row) for row in conn.execute(query)]

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
            return [_job(row) for row in conn.execute(query)]

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
        return _run(row)

    def runs(self, job_id: str) -> list[RunRecord]:
        """Every run of ``job_id``, oldest first."""
        query = runs_table.select().where(runs_table.c.job_id == job_id).order_by(runs_table.c.id)
        with self._engine.connect() as conn:
            return [_run(row) for row in conn.execute(query)]

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
            stale = [_run(row) for row in conn.execute(query) if not _alive(row.pid)]
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


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
