"""What the ledger knows of one job and of one run: their records.

Plain values, free of any database code, so that code which only reads
(``entrepot status``) needs no SQLAlchemy: the tables they are stored in are
in :mod:`.schema`, the states and outcomes they hold in :mod:`.states`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from entrepot.jobs.states import JobState, Outcome

__all__ = ["JobRecord", "RunRecord"]


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
    scope: str | None = None
    """The instance the job is confined to (its spool is there); ``None``: any instance."""
    instance: str | None = None
    """The instance that claimed it last."""
    lease_until: datetime | None = None
    """Until when that instance's claim holds while it runs (renewed by its heartbeat)."""


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
    instance: str | None = None
    """The instance of the fleet that ran it."""

    @property
    def duration(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
