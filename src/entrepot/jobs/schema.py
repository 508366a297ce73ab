"""The ledger's tables and the records read from them.

Two tables: ``entrepot_jobs`` (one row per job: kind, JSON parameters,
state, when next due, how its last run ended, and the job's *identity* —
jobs with the same one are the same piece of work, e.g. one shipping route —
with its *scope*, the instance of a fleet it is confined to, and the lease
of the instance running it)
and ``entrepot_job_runs`` (one row per run: start, end, outcome, tries,
failing step, code and error, items, bytes, and the JSON history of failed
tries).  Times are stored as UTC on every database and read back
timezone-aware.  The records read from them are in :mod:`.records`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from entrepot.jobs.records import JobRecord, RunRecord
from entrepot.jobs.states import OPEN, WAITING, JobState, Outcome

__all__ = [
    "IDENTITY_INDEX",
    "OPEN",
    "WAITING",
    "JobRecord",
    "JobState",
    "RunRecord",
    "UTCDateTime",
    "job_record",
    "jobs_table",
    "metadata",
    "run_record",
    "runs_table",
]

_R = TypeVar("_R", "JobRecord", "RunRecord")


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
    # The fleet (schema version 3): the instance a job is confined to (None:
    # any instance may run it), the one that claimed it last, and until when
    # that claim holds unless its heartbeat renews it.
    sa.Column("scope", sa.String(64)),
    sa.Column("instance", sa.String(64)),
    sa.Column("lease_until", UTCDateTime),
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
    sa.Column("instance", sa.String(64)),
    sa.Index("ix_entrepot_job_runs_job", "job_id", "number"),
)


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
