"""What ``entrepot ship`` and ``entrepot fetch`` print of a run, and the exit code it gives.

A table of the files (delivered, failed, skipped, deferred: every name
escaped), then one summary line; or, with ``--json``, one document.  A
file *deferred* by a fetch — left remote for a later run, its local name
still waiting in ``new/`` with other content, or written again while it was
fetched — is counted and listed with its reason, and is not a failure: the
run exits 0.  A name that can never be fetched (*skipped*) is the remote
side's bad data: exit 7 once the other files are in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from entrepot.cli import console, fetchclaims
from entrepot.cli.console import emit_json, human_size, is_quiet, print_error, say, shown, table
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import RemoteLocked
from entrepot.jobs.states import Outcome

if TYPE_CHECKING:
    from entrepot.jobs.runner import RunResult
    from entrepot.ship.jobs import RouteJob
    from entrepot.ship.route import Report

__all__ = ["finish", "result_json", "show_plan"]

#: Delivered files listed one by one; past this many, the rest are counted.
_LISTED = 50


def result_json(job: RouteJob, result: RunResult | None) -> dict[str, Any]:
    """The run as JSON; ``None``: nothing was waiting and nothing was recorded."""
    report = job.report
    return {
        "job_id": result.job_id if result else None,
        "kind": job.kind,
        "spool": job.spool_path,
        "url": job.route.display_url,
        "outcome": str(result.outcome if result else Outcome.EMPTY),
        "state": str(result.state) if result and result.state is not None else None,
        "files": list(report.done),
        "failed": dict(report.failed),
        "skipped": dict(report.skipped),
        "deferred": dict(report.deferred),
        "bytes": report.bytes,
        "attempts": result.attempts if result else 0,
        "error": str(result.error) if result and result.error else None,
        "exit_code": int(_code(result, report.skipped)) if result else int(ExitCode.OK),
        **fetchclaims.in_doubt(job),
    }


def _code(result: RunResult, skipped: dict[str, str]) -> ExitCode:
    if result.ok:
        # Names that can never be fetched are the remote side's bad data.
        return ExitCode.DATA if skipped else ExitCode.OK
    cause = result.error.__cause__ if result.error else None
    return exit_code_for(cause) if cause is not None else ExitCode.FAILED


def _rows(report: Report) -> list[tuple[object, ...]]:
    """A row for each file the run dealt with, and what became of it."""
    rows: list[tuple[object, ...]] = [(name, "ok") for name in report.done[:_LISTED]]
    if len(report.done) > _LISTED:
        rows.append((f"… and {len(report.done) - _LISTED} more", "ok"))
    rows += [(name, f"failed: {reason}") for name, reason in report.failed.items()]
    rows += [(name, f"skipped: {reason}") for name, reason in report.skipped.items()]
    rows += [(name, f"deferred: {reason}") for name, reason in report.deferred.items()]
    return rows


def _summary(report: Report, verb: str, result: RunResult) -> str:
    """The one line a run ends with; skipped and deferred files only when there are some."""
    skipped = f"{len(report.skipped)} skipped; " if report.skipped else ""
    deferred = f"{len(report.deferred)} deferred; " if report.deferred else ""
    return (
        f"{verb}: {len(report.done)} files, {human_size(report.bytes)}; "
        f"{len(report.failed)} failed; {skipped}{deferred}"
        f"job {shown(result.job_id)} {result.outcome}"
    )


def finish(job: RouteJob, result: RunResult, verb: str, as_json: bool) -> int:
    """Print the run's result (or its JSON) and any error; the exit code."""
    report = job.report
    code = _code(result, report.skipped)
    if as_json:
        emit_json(result_json(job, result))
    elif result.outcome is Outcome.EMPTY:
        say(f"nothing waiting; job {result.job_id}")
    else:
        rows = _rows(report)
        if rows:
            title = f"{verb} → {shown(job.route.display_url)}"
            console.out.print(table(title, ("File", "Result"), rows))
        console.out.print(_summary(report, verb, result))
    fetchclaims.warn_in_doubt(job, as_json)
    if result.ok:
        return code
    cause = result.error.__cause__ if result.error else None
    waits = result.state is not None
    if isinstance(cause, RemoteLocked):
        later = "; the job waits in the backlog" if waits else ""
        print_error(f"remote folder locked ({cause}){later}", label="locked")
    else:
        print_error(result.error)
    if waits and not is_quiet():
        console.err.print(f"job {shown(result.job_id)} is now {result.state}")
    return code


def show_plan(rows: list[tuple[str, int, str]], title: str, as_json: bool) -> int:
    """Print a dry run: each file, its size, where it would go."""
    if as_json:
        emit_json([{"name": n, "size": size, "to": to} for n, size, to in rows])
    else:
        table_rows = [(name, human_size(size), to) for name, size, to in rows]
        console.out.print(table(title, ("File", "Size", "Would go to"), table_rows))
        console.out.print(f"dry run: {len(rows)} files, nothing moved")
    return ExitCode.OK
