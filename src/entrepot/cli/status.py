"""``entrepot status``: what is waiting, what went, what failed — on one screen.

The exit code is for monitoring: 0 when no job needs attention, 1 when a
job waits in the backlog (it failed and will be re-run) or is dead (it
waits for an operator).  Files waiting in a spool are normal work between
two runs, not a problem, so they do not change the code; a spool named on
the command line that does not exist is an error (exit 4).

With a configuration file (``--config``, ``$ENTREPOT_CONFIG``, or the
default file when it exists) it also shows each configured spool and route
and the running service (:mod:`entrepot.service.status`); the ledger and
state folder are the configuration's unless ``--state``/``--ledger`` say.
Without one, nothing of the service is imported.

The jobs are read through :func:`~entrepot.cli.ledgers.ledger_rows` (the
SQLite ledger directly, no SQLAlchemy) with the queries of
:mod:`entrepot.jobs.summary`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from entrepot.cli.console import emit_json, human_size, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import LedgerOption, StateOption, ledger_rows, recorded_in
from entrepot.jobs.records import JobRecord
from entrepot.jobs.states import JobState
from entrepot.jobs.summary import Rows, jobs_in, orphaned, state_counts

if TYPE_CHECKING:
    from rich.console import Group
    from rich.table import Table

    from entrepot.spool import AreaStats

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The service's configuration file: show its spools, routes and process "
        "(default: $ENTREPOT_CONFIG, else $XDG_CONFIG_HOME/entrepot/entrepot.toml if it exists).",
        show_default=False,
    ),
]


#: Job states that make ``status`` exit 1: something failed and needs attention.
ATTENTION = (JobState.BACKLOG, JobState.DEAD)
#: Most jobs needing attention that are listed.
ATTENTION_LISTED = 20
_SPOOL_AREAS = ("new", "claimed", "cur", "tmp")


class JobsSummary(NamedTuple):
    """Jobs by state, and the newest of those that need attention (secrets masked); the jobs
    marked running whose process is gone (:func:`~entrepot.jobs.summary.orphaned`)."""

    counts: dict[JobState, int]
    attention: list[JobRecord]
    orphaned: list[str]

    @classmethod
    def read(cls, rows: Rows) -> JobsSummary:
        attention = jobs_in(rows, ATTENTION, limit=ATTENTION_LISTED)
        if attention:  # usually none: spare the import
            from entrepot.cli.jobviews import masked

            attention = [masked(job) for job in attention]
        counts = state_counts(rows)
        stranded = orphaned(rows) if counts.get(JobState.RUNNING) else []
        return cls(counts, attention, stranded)

    @property
    def needs_attention(self) -> bool:
        return bool(self.orphaned) or any(self.counts.get(state, 0) for state in ATTENTION)


def spool_figures(spools: Sequence[Path]) -> dict[str, dict[str, AreaStats | None]]:
    """Files and bytes waiting, in flight, done and being written, per spool (which must exist)."""
    if not spools:
        return {}
    from entrepot.spool import Spool  # only when spools are named

    figures = {}
    for path in spools:
        stats = Spool(path).check().stats()
        figures[str(path)] = {area: stats.get(area) for area in _SPOOL_AREAS}
    return figures


def spool_table(spools: Sequence[Path]) -> Table:
    """Files and bytes waiting, in flight, done and being written, per spool."""
    return _figures_table(spool_figures(spools))


def _figures_table(figures: dict[str, dict[str, AreaStats | None]]) -> Table:
    rows = [
        (
            path,
            *(
                f"{numbers.files} ({human_size(numbers.bytes)})" if numbers else "0"
                for numbers in areas.values()
            ),
        )
        for path, areas in figures.items()
    ]
    return table("Spools", ("Spool", "Waiting", "In flight", "Done", "Being written"), rows)


def jobs_tables(summary: JobsSummary) -> Group:
    """Counts of jobs by state, and the jobs that need attention."""
    from rich.console import Group

    counts = table(
        "Jobs", ("State", "Count"), [(state, summary.counts.get(state, 0)) for state in JobState]
    )
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
            for job in summary.attention
        ],
    )
    if not summary.orphaned:
        return Group(counts, attention)
    stranded = table(
        "Marked running, their process gone (`entrepot jobs ls` puts them back)",
        ("ID",),
        [(job_id,) for job_id in summary.orphaned],
    )
    return Group(counts, stranded, attention)


def _as_json(
    spools: dict[str, dict[str, AreaStats | None]], summary: JobsSummary
) -> dict[str, Any]:
    return {
        "spools": {
            path: {
                area: {"files": s.files, "bytes": s.bytes} if s else {"files": 0, "bytes": 0}
                for area, s in areas.items()
            }
            for path, areas in spools.items()
        },
        "jobs": {str(state): count for state, count in summary.counts.items()},
        "orphaned": summary.orphaned,
        "attention": [
            {
                "id": job.id,
                "kind": job.kind,
                "name": job.name,
                "state": str(job.state),
                "failures": job.failures,
                "next_due": job.next_due.isoformat() if job.next_due else None,
                "last_error": job.last_error,
            }
            for job in summary.attention
        ],
    }


def status(
    spools: Annotated[
        list[str] | None,
        typer.Argument(help="Spool folders or configured spool names.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    state: StateOption = None,
    ledger: LedgerOption = None,
    config: ConfigOption = None,
    fleet: Annotated[
        bool,
        typer.Option(
            "--fleet", help="Every instance sharing the ledger: silent ones, stuck routes."
        ),
    ] = False,
) -> int:
    """Show spools (waiting, in flight, done), routes, the service, and jobs (backlog, dead).

    Exits 1 when a job waits in the backlog, is dead, or is marked running while its
    process is gone (killed), 4 when a spool or a
    state folder named on the command line does not exist, else 0.  With
    ``--fleet``: exits 1 when an instance is silent or a route is stuck.
    """
    config_file = _config_file(config)
    if fleet:
        from entrepot.cli.fleet import fleet_status

        return fleet_status(config_file, as_json, state, ledger)
    if config_file is not None:
        from entrepot.cli.status_service import service_status

        return service_status(config_file, spools or [], as_json, state, ledger)
    figures = spool_figures([Path(spool) for spool in spools or []])
    with ledger_rows(recorded_in(state), ledger) as rows:
        summary = JobsSummary.read(rows)
    if as_json:
        emit_json(_as_json(figures, summary))
    else:
        from entrepot.cli.console import out

        if figures:
            out.print(_figures_table(figures))
        out.print(jobs_tables(summary))
    return ExitCode.FAILED if summary.needs_attention else ExitCode.OK


def _config_file(given: Path | None) -> Path | None:
    """The configuration to report on: named, in the environment, or the default if present."""
    if given is not None:
        return given.expanduser().absolute()
    from entrepot.service.paths import default_config_path

    default = default_config_path()
    if os.environ.get("ENTREPOT_CONFIG") or default.is_file():
        return default.absolute()
    return None


def register(app: typer.Typer) -> None:
    app.command("status")(status)
