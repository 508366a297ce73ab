"""What the data center tells provenance: its files' steps, and rows retired.

An import records, when its job runs with a ledger, ``imported`` (table,
mode, rows ok and failed, the pending file) — and, in ``remove`` mode,
``removed``: the rows the file removed, with the backups in ``deleted/``
that keep them — or ``failed``.  Retiring rows records ``retired`` on the
backup in ``graduated/`` that received them (see :func:`retired`).

An import killed after its last commit but before its events were written
is re-run from the backlog: the importer finds it finished in its own
record and reports the same result, which is recorded then.  Killed after
the events were written but before the job was marked done, the re-run
finds them (same job, same file) and adds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from entrepot.provenance.events import Kind, Outcome, place_of

if TYPE_CHECKING:
    from entrepot.jobs import JobContext
    from entrepot.provenance.journal import Arrivals

__all__ = ["Step", "record_steps", "retired"]


class Step(NamedTuple):
    """One event of a data center file, as :func:`record_steps` takes it."""

    kind: Kind
    details: Mapping[str, Any]
    size: int | None = None
    outcome: Outcome = Outcome.OK


def record_steps(ctx: JobContext, root: Path, file: str, steps: Sequence[Step]) -> None:
    """Record the ``steps`` of data center ``file`` in the run's ledger, in one transaction.

    Steps of this job already recorded for the file (a run killed between
    its events and its end, then re-run) are not recorded again.  The
    recorder also files what ``entrepot dc upload`` left in the state
    folder's journal, so the upload precedes its import in the trace.
    """
    ledger = ctx.ledger
    if ledger is None:
        return
    from entrepot.provenance.reader import find
    from entrepot.provenance.recorder import Recorder

    place = place_of(root)
    with Recorder(ledger.engine, state_dir=ledger.state_dir, job_id=ctx.job_id) as recorder:
        kinds = [step.kind for step in steps]
        done = {
            event.kind
            for event in find(ledger.engine, file, place=place, kinds=kinds)
            if event.job_id == ctx.job_id and event.kind is not Kind.FAILED
        }
        for step in steps:
            if step.kind not in done:
                recorder.record(
                    step.kind, place, file, size=step.size, outcome=step.outcome,
                    attempt=ctx.attempt, details=step.details,
                )  # fmt: skip


def retired(
    provenance: str | os.PathLike[str] | Arrivals,
    backup: Path,
    table: str,
    rows: int,
    where: Sequence[str],
) -> None:
    """Journal (in a state folder's shared file of arrivals, or the journal given) that
    ``rows`` rows of ``table``, selected by ``where``, went into ``backup``."""
    from entrepot.provenance.journal import Arrivals
    from entrepot.provenance.shared import ARRIVALS, SharedJournal

    details = {"table": table, "rows": rows, "where": list(where)}
    if isinstance(provenance, Arrivals):
        provenance.arrived(Kind.RETIRED, backup.parent, backup, None, details)
        return
    with SharedJournal(provenance, ARRIVALS) as journal:
        journal.arrived(Kind.RETIRED, backup.parent, backup, None, details)
