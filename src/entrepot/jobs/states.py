"""Where a job stands and how a run ended: the values the ledger stores.

Plain enumerations, free of any database or lifecycle code, so that code
which only reads the ledger (``entrepot status``, a shipping run deciding
whether its route has a job waiting) imports little.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OPEN", "WAITING", "JobState", "Outcome"]


class Outcome(StrEnum):
    """How one run ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    EMPTY = "empty"
    """Nothing to send: a success."""
    FAILED = "failed"
    DEFERRED = "deferred"
    """Not done, not a failure: the job asked to run later (the remote side was locked)."""
    INTERRUPTED = "interrupted"
    """The process stopped (Ctrl-C, kill) before the run could finish."""

    @property
    def ok(self) -> bool:
        return self in (Outcome.SUCCEEDED, Outcome.EMPTY)


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
