"""``entrepot status``: what is waiting, what went, what failed — on one screen."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from entrepot.cli.console import human_size, out, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.jobs import LedgerOption, StateOption, open_ledger
from entrepot.jobs import JobState, Ledger
from entrepot.spool import Spool


def spool_table(spools: Sequence[Path]) -> Table:
    """Files and bytes waiting, in flight and done, per spool."""
    rows = []
    for path in spools:
        stats = Spool(path).stats()
        cell = {area: stats.get(area) for area in ("new", "claimed", "cur", "tmp")}
        rows.append(
            (
                str(path),
                *(
                    f"{numbers.files} ({human_size(numbers.bytes)})" if numbers else "0"
                    for numbers in cell.values()
                ),
            )
        )
    return table("Spools", ("Spool", "Waiting", "In flight", "Done", "Being written"), rows)


def jobs_tables(ledger: Ledger) -> Group:
    """Counts of jobs by state, and the jobs that need attention."""
    counts = ledger.counts()
    summary = table(
        "Jobs", ("State", "Count"), [(state, counts.get(state, 0)) for state in JobState]
    )
    waiting = ledger.jobs(states=[JobState.BACKLOG, JobState.DEAD], limit=20)
    attention = table(
        "Backlog (waiting to be re-run) and dead jobs",
        ("ID", "Kind", "State", "Failures", "Due", "Error"),
        [
            (
                job.id,
                job.kind,
                job.state,
                job.failures,
                job.next_due.strftime("%Y-%m-%d %H:%M:%S") if job.next_due else "",
                (job.last_error or "")[:70],
            )
            for job in waiting
        ],
    )
    return Group(summary, attention)


def status(
    spools: Annotated[
        list[Path] | None, typer.Argument(help="Spool folders to show.", show_default=False)
    ] = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Show spools (waiting, in flight, done) and jobs (by state, backlog, dead)."""
    if spools:
        out.print(spool_table(spools))
    with open_ledger(state, ledger) as book:
        out.print(jobs_tables(book))
        problems = book.counts()
    dead = problems.get(JobState.DEAD, 0)
    waiting = problems.get(JobState.BACKLOG, 0)
    # Scripts can tell at a glance: 0 all clear, 1 something waits or died.
    return ExitCode.FAILED if dead or waiting else ExitCode.OK


def register(app: typer.Typer) -> None:
    app.command("status")(status)
