"""``entrepot jobs …`` and ``entrepot backlog …``: the ledger and the jobs waiting in it.

Which ledger a command uses (``--state``, ``--ledger``) is decided in
:mod:`entrepot.cli.ledgers` — or, with ``--config`` (or ``$ENTREPOT_CONFIG``),
the service's ledger named in that file (:func:`entrepot.cli.names.ledger_for`);
:data:`StateOption`, :data:`LedgerOption` and :func:`open_ledger` are also
importable from here.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from entrepot.cli.console import emit_json, err, human_size, out, print_error, shown
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.cli.jobviews import (
    job_json,
    job_row,
    job_table,
    masked,
    masked_run,
    print_detail,
    print_results,
    result_json,
    run_json,
    show_table,
)
from entrepot.cli.ledgers import (
    DEFAULT_STATE_DIR,
    LedgerOption,
    StateOption,
    open_ledger,
    recorded,
    recorded_in,
)
from entrepot.cli.names import ConfigOption, ledger_for
from entrepot.errors import ConfigError, JobError, UnknownJob, UnknownName
from entrepot.jobs import (
    DEFAULT_RERUNS,
    Backlog,
    JobState,
    Ledger,
    Outcome,
    Runner,
    RunResult,
)
from entrepot.redact import mask_secrets

__all__ = ["DEFAULT_STATE_DIR", "LedgerOption", "StateOption", "open_ledger", "register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

jobs_app = typer.Typer(
    name="jobs", help="Jobs and their runs, from the ledger.", no_args_is_help=True
)
backlog_app = typer.Typer(
    name="backlog", help="Jobs waiting to be re-run: list, retry, drop.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app)
    app.add_typer(backlog_app)


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
        int,
        typer.Option(
            "--limit", "-n", min=1, max=sys.maxsize, help="At most this many, newest first."
        ),
    ] = 50,
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
    config: ConfigOption = None,
) -> int:
    """List jobs, newest first."""
    state = recorded_in(state)
    states = _parse_states(status)
    with open_ledger(*recorded(ledger_for(config, state, ledger))) as book:
        Backlog(book).recover()  # a run whose process died is shown interrupted, not running
        jobs = [masked(job) for job in book.jobs(states=states, kind=kind, limit=limit)]
    if as_json:
        emit_json([job_json(job) for job in jobs])
        return ExitCode.OK
    columns = ("ID", "Kind", "Name", "State", "Runs", "Items", "Bytes", "Code", "Due", "Error")
    rows = [job_row(job, job.runs, job.items, human_size(job.bytes)) for job in jobs]
    show_table(job_table(f"{len(jobs)} jobs", columns, rows))
    return ExitCode.OK


@jobs_app.command("show")
def jobsshow_table(
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique start of it).")],
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
    config: ConfigOption = None,
) -> int:
    """Show one job with all its runs and the tries of its last run."""
    state = recorded_in(state)
    with open_ledger(*recorded(ledger_for(config, state, ledger))) as book:
        Backlog(book).recover()
        job = masked(book.find(job_id))
        runs = [masked_run(run) for run in book.runs(job.id)]
    if as_json:
        emit_json({**job_json(job), "run_list": [run_json(r) for r in runs]})
    else:
        print_detail(job, runs)
    return ExitCode.OK


# -- entrepot backlog ------------------------------------------------------------


#: Jobs ``backlog ls`` shows as a table unless ``--limit`` says (drawing a table of
#: thousands takes seconds and shows nobody anything): the soonest due.
BACKLOG_SHOWN = 50


@backlog_app.command("ls")
def backlog_ls(
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            max=sys.maxsize,
            help=f"At most this many, soonest due first (table default {BACKLOG_SHOWN}, "
            "JSON default all).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
    config: ConfigOption = None,
) -> int:
    """List the jobs waiting to be re-run (soonest due first), then the dead ones."""
    state = recorded_in(state)
    with open_ledger(*recorded(ledger_for(config, state, ledger))) as book:
        backlog = Backlog(book)
        backlog.recover()
        waiting = backlog.list()
    if as_json:
        emit_json([job_json(masked(job)) for job in waiting[:limit]])
        return ExitCode.OK
    shown_jobs = [masked(job) for job in waiting[: limit or BACKLOG_SHOWN]]
    columns = ("ID", "Kind", "Name", "State", "Failures", "Code", "Due", "Error")
    rows = [job_row(job, job.failures) for job in shown_jobs]
    show_table(job_table(f"backlog — {len(waiting)} jobs", columns, rows))
    if len(waiting) > len(shown_jobs) and not out.quiet:
        more = len(waiting) - len(shown_jobs)
        err.print(f"… and {more} more (--limit {len(waiting)} to list them all, or --json)")
    return ExitCode.OK


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
    config: ConfigOption = None,
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
    with open_ledger(*ledger_for(config, state, ledger)) as book:
        backlog = Backlog(book, Runner(book, reruns=reruns))
        if job_id is not None:
            try:
                results = [backlog.retry(job_id)]
            except JobError as exc:
                return _refused(book, job_id, exc)
        elif force:
            results = backlog.retry_all()
        else:
            results = backlog.retry_due()
    if as_json:
        emit_json([result_json(result) for result in results])
    elif not results:
        if not out.quiet:
            err.print("no job to re-run")
    else:
        print_results(results)
    for result in results:
        if result.error is not None:
            print_error(f"job {result.job_id}: {result.error.message}")
    return exit_code_for_results(results)


def exit_code_for_results(results: Sequence[RunResult]) -> ExitCode:
    """FAILED if any run failed, else TEMPORARY if any was deferred or interrupted, else OK.

    A job that could not be rebuilt because of the configuration (its route
    or target name gone from the file, the file broken) says so: 4 or 3.
    """
    failed = [result for result in results if result.outcome == Outcome.FAILED]
    causes = [result.error.__cause__ if result.error else None for result in failed]
    if failed and all(isinstance(cause, ConfigError | UnknownName) for cause in causes):
        return max(exit_code_for(cause) for cause in causes if cause is not None)
    if failed:
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
    config: ConfigOption = None,
) -> int:
    """Give a waiting or dead job up; it stays in the ledger as dropped, with the reason."""
    if not reason.strip():
        raise typer.BadParameter("the reason cannot be empty", param_hint="--reason")
    with open_ledger(*ledger_for(config, state, ledger)) as book:
        try:
            job = Backlog(book).drop(job_id, reason)
        except JobError as exc:
            return _refused(book, job_id, exc)
    out.print(f"dropped {shown(job.id)}: {shown(mask_secrets(job.reason or ''))}")
    return ExitCode.OK


def _refused(book: Ledger, job_id: str, exc: JobError) -> ExitCode:
    """A job that ``serve`` (or another command) runs right now is refused for now:
    exit 5, try again once its run has ended — not a failure (1).  Any other refusal
    (an unknown job, one already finished) is raised as it is."""
    if isinstance(exc, UnknownJob) or book.find(job_id).state != JobState.RUNNING:
        raise exc
    print_error(f"{exc.message}: it is being run now; try again once that run has ended")
    return ExitCode.TEMPORARY
