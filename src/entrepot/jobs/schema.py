"""The ledger's tables and the records read from them.

Two tables: ``entrepot_jobs`` (one row per job: kind, JSON parameters,
state, when next due, how its last run ended, and the job's *identity* —
jobs with the same one are the same piece of work, e.g. one shipping route)
and ``entrepot_job_runs`` (one row per run: start, end, outcome, tries,
failing step, code and error, items, bytes, and the JSON history of failed
tries).  Times are stored as UTC on every database and read back
timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa

from entrepot.jobs.lifecycle import Outcome

_R = TypeVar("_R", "JobRecord", "RunRecord")


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
    SUPERSEDED = "superseded"
    """Replaced by a later job of the same identity (named in ``reason``)."""


#: States of jobs that still wait to be (re-)run.
WAITING = (JobState.PENDING, JobState.BACKLOG)
#: States of jobs that wait for a run or an operator: a job of an identity
#: found in one of them is joined by a new run of the same identity.
OPEN = (JobState.PENDING, JobState.BACKLOG, JobState.DEAD)


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
IDENTITY_INDEX = "ix_entrepot_jobs_identity"

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
    sa.Column("identity", sa.String(64)),
    sa.Index("ix_entrepot_jobs_state_due", "state", "next_due"),
    sa.Index(IDENTITY_INDEX, "identity", "state"),
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
    identity: str | None = None
    """What makes two jobs the same piece of work (``None``: every job is its own)."""


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


def job_record(row: sa.Row[Any]) -> JobRecord:
    """A :class:`JobRecord` from a row of the jobs table."""
    m = row._mapping
    return _record(
        JobRecord,
        m,
        params=dict(m["params"]),
        state=JobState(m["state"]),
        last_outcome=Outcome(m["last_outcome"]) if m["last_outcome"] else None,
    )


def run_record(row: sa.Row[Any]) -> RunRecord:
    """A :class:`RunRecord` from a row of the runs table."""
    m = row._mapping
    return _record(RunRecord, m, outcome=Outcome(m["outcome"]), history=list(m["history"]))


def _record(cls: type[_R], values: Mapping[Any, Any], **converted: Any) -> _R:
    """``cls`` built from a row's columns of the same names, some of them ``converted``."""
    return cls(**{f.name: converted.get(f.name, values.get(f.name)) for f in fields(cls)})  # type: ignore[arg-type]
