"""``entrepot jobs …`` and ``entrepot backlog …``: the ledger and the jobs waiting in it.

The state folder (holding the SQLite ledger) comes from ``--state DIR``, else
the environment variable ``ENTREPOT_STATE_DIR``, else
``~/.local/state/entrepot``; ``--ledger URL`` (or ``ENTREPOT_LEDGER_URL``)
names another database instead, e.g. a shared PostgreSQL.  Other command
modules reuse :data:`StateOption`, :data:`LedgerOption` and
:func:`open_ledger` so that every command finds the same ledger.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from entrepot.cli.console import emit_json, err, human_size, out, print_error, shown, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.jobs import (
    DEFAULT_RERUNS,
    Backlog,
    JobRecord,
    JobState,
    Ledger,
    Outcome,
    Runner,
    RunRecord,
    RunResult,
)
from entrepot.redact import mask_secrets

#: Where the state folder is when neither ``--state`` nor the environment says.
DEFAULT_STATE_DIR = Path("~/.local/state/entrepot")

StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="ENTREPOT_STATE_DIR",
        help="State folder holding the ledger (default ~/.local/state/entrepot).",
        show_envvar=True,
    ),
]
LedgerOption = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        envvar="ENTREPOT_LEDGER_URL",
        help="Database URL of the ledger instead of the state folder's SQLite file.",
        show_envvar=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def open_ledger(state: Path | None = None, ledger_url: str | None = None) -> Ledger:
    """The ledger named on the command line (URL first, then the state folder)."""
    if ledger_url:
        return Ledger(ledger_url)
    return Ledger.open((state or DEFAULT_STATE_DIR).expanduser())


jobs_app = typer.Typer(
    name="jobs", help="Jobs and their runs, from the ledger.", no_args_is_help=True
)
backlog_app = typer.Typer(
    name="backlog", help="Jobs waiting to be re-run: list, retry, drop.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app)
    app.add_typer(backlog_app)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A table whose first column (job ids) never wraps, whatever the width."""
    result = table(title, columns, rows)
    result.columns[0].no_wrap = True
    result.columns[0].min_width = max((len(str(row[0])) for row in rows), default=2)
    return result


def _show(result: Table) -> None:
    # Piped output has no width of its own: give tables room rather than fold ids.
    if out.is_terminal:
        out.print(result)
    else:
        Console(width=max(out.width, 200), highlight=False, quiet=out.quiet).print(result)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


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


def _masked_run(run: RunRecord) -> RunRecord:
    history = json.loads(mask_secrets(json.dumps(run.history)))
    error = mask_secrets(run.error) if run.error else run.error
    return dataclasses.replace(run, error=error, history=history)


def _short(text: str | None, width: int = 60) -> str:
    """``text`` on one line, secrets masked, cut to ``width``."""
    text = mask_secrets(text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _job_json(job: JobRecord) -> dict[str, Any]:
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


def _run_json(run: RunRecord) -> dict[str, Any]:
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


def _parse_states(values: Sequence[str] | None) -> list[JobState] | None:
    if not values:
        return None
    try:
        return [JobState(value.lower()) for value in values]
    except ValueError:
        known = ", ".join(state.value for state in JobState)
        raise typer.BadParameter(f"states are: {known}", param_hint="--status") from None


# -- entrepot jobs ---------------------------------------------------------------


@jobs_app.command("ls")
def jobs_ls(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="Only jobs in this state (repeatable)."),
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many, newest first.")
    ] = 50,
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """List jobs, newest first."""
    states = _parse_states(status)
    with open_ledger(state, ledger) as book:
        jobs = [masked(job) for job in book.jobs(states=states, kind=kind, limit=limit)]
    if as_json:
        emit_json([_job_json(job) for job in jobs])
        return ExitCode.OK
    columns = ("ID", "Kind", "Name", "State", "Runs", "Items", "Bytes", "Code", "Due", "Error")
    rows = [_job_row(job, job.runs, job.items, human_size(job.bytes)) for job in jobs]
    _show(_table(f"{len(jobs)} jobs", columns, rows))
    return ExitCode.OK


def _job_row(job: JobRecord, *middle: object) -> tuple[object, ...]:
    """A job as a table row: id, kind, name, state, ``middle``, code, due, error."""
    due = _when(job.next_due) if job.state in (JobState.PENDING, JobState.BACKLOG) else ""
    return (
        job.id,
        job.kind,
        _short(job.name, 40),
        job.state,
        *middle,
        job.last_code or "",
        due,
        _short(job.reason or job.last_error, 60),
    )


def _print_detail(job: JobRecord, runs: list[RunRecord]) -> None:
    fields = [
        ("id", job.id),
        ("kind", job.kind),
        ("name", job.name),
        ("state", str(job.state)),
        ("created", _when(job.created_at)),
        ("updated", _when(job.updated_at)),
        ("runs", str(job.runs)),
        ("failed runs in a row", str(job.failures)),
        ("next due", _when(job.next_due)),
        ("last outcome", str(job.last_outcome or "")),
        ("last error", f"[{job.last_code}] {job.last_error}" if job.last_error else ""),
        ("reason", job.reason or ""),
        ("items", str(job.items)),
        ("bytes", human_size(job.bytes)),
        ("parameters", json.dumps(job.params, sort_keys=True)),
    ]
    for label, value in fields:
        if value:
            out.print(f"{label + ':':22}{shown(value)}")
    rows = [
        (
            run.number,
            run.trigger,
            _when(run.started_at),
            f"{run.duration:.1f}s" if run.duration is not None else "",
            run.outcome,
            run.attempts,
            run.code or "",
            run.items,
            human_size(run.bytes),
            _short(run.error, 60),
        )
        for run in runs
    ]
    columns = ("Run", "Trigger", "Started", "Took", "Outcome", "Attempts", "Code", "Items")
    _show(_table("runs", (*columns, "Bytes", "Error"), rows))
    last = runs[-1] if runs else None
    if last is not None and last.history:
        out.print("tries of the last run:")
        for entry in last.history:
            delay = entry.get("delay")
            then = f", retried after {delay:.1f}s" if delay is not None else ""
            line = f"{entry['attempt']}. {entry['step']}: {entry['error']}{then}"
            out.print(f"  {shown(line)}")


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique start of it).")],
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Show one job with all its runs and the tries of its last run."""
    with open_ledger(state, ledger) as book:
        job = masked(book.find(job_id))
        runs = [_masked_run(run) for run in book.runs(job.id)]
    if as_json:
        emit_json({**_job_json(job), "run_list": [_run_json(r) for r in runs]})
    else:
        _print_detail(job, runs)
    return ExitCode.OK


# -- entrepot backlog ------------------------------------------------------------


@backlog_app.command("ls")
def backlog_ls(
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """List the jobs waiting to be re-run (soonest due first), then the dead ones."""
    with open_ledger(state, ledger) as book:
        backlog = Backlog(book)
        backlog.recover()
        jobs = [masked(job) for job in backlog.list()]
    if as_json:
        emit_json([_job_json(job) for job in jobs])
        return ExitCode.OK
    columns = ("ID", "Kind", "Name", "State", "Failures", "Code", "Due", "Error")
    _show(_table(f"backlog — {len(jobs)} jobs", columns, [_job_row(j, j.failures) for j in jobs]))
    return ExitCode.OK


def _print_results(results: list[RunResult]) -> None:
    rows = [
        (
            result.job_id,
            result.outcome,
            result.attempts,
            result.items,
            result.code or "",
            result.state or "",
            _short(result.error.message if result.error else "", 60),
        )
        for result in results
    ]
    columns = ("ID", "Outcome", "Attempts", "Items", "Code", "State", "Error")
    _show(_table(f"{len(results)} jobs re-run", columns, rows))


@backlog_app.command("retry")
def backlog_retry(
    job_id: Annotated[str | None, typer.Argument(help="Job id (or a unique start of it).")] = None,
    all_due: Annotated[bool, typer.Option("--all", help="Re-run every job that is due.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --all: also jobs not due yet (never dead ones).")
    ] = False,
    max_runs: Annotated[
        int,
        typer.Option(
            "--max-runs", min=1, help="Park a job as dead after this many failed runs in a row."
        ),
    ] = DEFAULT_RERUNS.attempts,
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Re-run one job now (dead ones too), or every due job with --all.

    Ctrl-C or SIGTERM stops after the job in hand, which is recorded as
    interrupted and stays in the backlog.
    """
    if (job_id is None) == (not all_due):
        raise typer.BadParameter("give a job id or --all (not both)")
    if force and not all_due:
        raise typer.BadParameter("--force goes with --all", param_hint="--force")
    reruns = dataclasses.replace(DEFAULT_RERUNS, attempts=max_runs)
    with open_ledger(state, ledger) as book:
        backlog = Backlog(book, Runner(book, reruns=reruns))
        if job_id is not None:
            results = [backlog.retry(job_id)]
        elif force:
            results = backlog.retry_all()
        else:
            results = backlog.retry_due()
    if as_json:
        emit_json([_result_json(result) for result in results])
    elif not results:
        if not out.quiet:
            err.print("no job to re-run")
    else:
        _print_results(results)
    for result in results:
        if result.error is not None:
            print_error(f"job {result.job_id}: {result.error.message}")
    return exit_code_for_results(results)


def _result_json(result: RunResult) -> dict[str, Any]:
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


def exit_code_for_results(results: Sequence[RunResult]) -> ExitCode:
    """FAILED if any run failed, else TEMPORARY if any was deferred or interrupted, else OK."""
    if any(result.outcome == Outcome.FAILED for result in results):
        return ExitCode.FAILED
    if any(not result.ok for result in results):
        return ExitCode.TEMPORARY
    return ExitCode.OK


@backlog_app.command("drop")
def backlog_drop(
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique start of it).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the job is given up (kept).")],
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Give a waiting or dead job up; it stays in the ledger as dropped, with the reason."""
    if not reason.strip():
        raise typer.BadParameter("the reason cannot be empty", param_hint="--reason")
    with open_ledger(state, ledger) as book:
        job = Backlog(book).drop(job_id, reason)
    out.print(f"dropped {shown(job.id)}: {shown(job.reason)}")
    return ExitCode.OK
