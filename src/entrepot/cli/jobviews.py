"""How jobs, runs and run results are shown: tables, details and JSON.

Everything read from a ledger is shown made safe: secrets masked (a ledger
written by an older release, or edited by hand, may still hold one), and in
tables control characters escaped and rich markup printed literally.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from entrepot.cli import console
from entrepot.cli.console import human_size, shown, table
from entrepot.jobs.records import JobRecord, RunRecord
from entrepot.jobs.states import JobState
from entrepot.redact import mask_secrets

if TYPE_CHECKING:
    from rich.table import Table

    from entrepot.jobs.runner import RunResult


def job_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A table whose first column (job ids) never wraps, whatever the width."""
    result = table(title, columns, rows)
    result.columns[0].no_wrap = True
    result.columns[0].min_width = max((len(str(row[0])) for row in rows), default=2)
    return result


def show_table(result: Table) -> None:
    # Piped output has no width of its own: give tables room rather than fold ids.
    out = console.out
    if out.is_terminal:
        out.print(result)
    else:
        from rich.console import Console

        Console(width=max(out.width, 200), highlight=False, quiet=out.quiet).print(result)


def when(moment: datetime | None) -> str:
    """A job's time as ``trace`` shows times (and job ids read): in UTC, and saying so."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def masked(job: JobRecord) -> JobRecord:
    """``job`` with every secret masked, for showing: a ledger written by an older
    release (or edited by hand) may still hold one."""
    return dataclasses.replace(
        job,
        name=mask_secrets(job.name),
        params=json.loads(mask_secrets(json.dumps(job.params))),
        last_error=mask_secrets(job.last_error) if job.last_error else job.last_error,
        reason=mask_secrets(job.reason) if job.reason else job.reason,
    )


def masked_run(run: RunRecord) -> RunRecord:
    history = json.loads(mask_secrets(json.dumps(run.history)))
    error = mask_secrets(run.error) if run.error else run.error
    return dataclasses.replace(run, error=error, history=history)


def short(text: str | None, width: int = 60) -> str:
    """``text`` on one line, secrets masked, cut to ``width``."""
    text = mask_secrets(text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def job_json(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "state": str(job.state),
        "params": job.params,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "runs": job.runs,
        "failures": job.failures,
        "next_due": job.next_due.isoformat() if job.next_due else None,
        "last_outcome": str(job.last_outcome) if job.last_outcome else None,
        "last_step": job.last_step,
        "last_code": job.last_code,
        "last_error": job.last_error,
        "reason": job.reason,
        "items": job.items,
        "bytes": job.bytes,
    }


def run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "number": run.number,
        "trigger": run.trigger,
        "host": run.host,
        "pid": run.pid,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "outcome": str(run.outcome),
        "attempts": run.attempts,
        "step": run.step,
        "code": run.code,
        "error": run.error,
        "error_type": run.error_type,
        "items": run.items,
        "bytes": run.bytes,
        "history": run.history,
    }


def job_row(job: JobRecord, *middle: object) -> tuple[object, ...]:
    """A job as a table row: id, kind, name, state, ``middle``, code, due, error."""
    due = when(job.next_due) if job.state in (JobState.PENDING, JobState.BACKLOG) else ""
    return (
        job.id,
        job.kind,
        short(job.name, 40),
        job.state,
        *middle,
        job.last_code or "",
        due,
        short(job.reason or job.last_error, 60),
    )


def print_detail(job: JobRecord, runs: list[RunRecord]) -> None:
    fields = [
        ("id", job.id),
        ("kind", job.kind),
        ("name", job.name),
        ("state", str(job.state)),
        ("created", when(job.created_at)),
        ("updated", when(job.updated_at)),
        ("runs", str(job.runs)),
        ("failed runs in a row", str(job.failures)),
        ("next due", when(job.next_due)),
        ("last outcome", str(job.last_outcome or "")),
        ("last error", _error_of(job)),
        ("reason", job.reason or ""),
        ("items", str(job.items)),
        ("bytes", human_size(job.bytes)),
        ("parameters", json.dumps(job.params, sort_keys=True)),
    ]
    for label, value in fields:
        if value:
            console.out.print(f"{label + ':':22}{shown(value)}")
    rows = [
        (
            run.number,
            run.trigger,
            when(run.started_at),
            f"{run.duration:.1f}s" if run.duration is not None else "",
            run.outcome,
            run.attempts,
            run.code or "",
            run.items,
            human_size(run.bytes),
            short(run.error, 60),
        )
        for run in runs
    ]
    columns = ("Run", "Trigger", "Started", "Took", "Outcome", "Attempts", "Code", "Items")
    show_table(job_table("runs", (*columns, "Bytes", "Error"), rows))
    last = runs[-1] if runs else None
    if last is not None and last.history:
        console.out.print("tries of the last run:")
        for entry in last.history:
            delay = entry.get("delay")
            then = f", retried after {delay:.1f}s" if delay is not None else ""
            line = f"{entry['attempt']}. {entry['step']}: {entry['error']}{then}"
            console.out.print(f"  {shown(line)}")


def print_results(results: list[RunResult]) -> None:
    rows = [
        (
            result.job_id,
            result.outcome,
            result.attempts,
            result.items,
            result.code or "",
            result.state or "",
            short(result.error.message if result.error else "", 60),
        )
        for result in results
    ]
    columns = ("ID", "Outcome", "Attempts", "Items", "Code", "State", "Error")
    show_table(job_table(f"{len(results)} jobs re-run", columns, rows))


def result_json(result: RunResult) -> dict[str, Any]:
    return {
        "job_id": result.job_id,
        "outcome": str(result.outcome),
        "state": str(result.state) if result.state is not None else None,
        "attempts": result.attempts,
        "items": result.items,
        "bytes": result.bytes,
        "code": result.code,
        "error": result.error.message if result.error else None,
    }


def _error_of(job: JobRecord) -> str:
    """The job's last error, after its code when it has one (an interrupted run has none)."""
    if not job.last_error:
        return ""
    return job.last_error if job.last_code is None else f"[{job.last_code}] {job.last_error}"
