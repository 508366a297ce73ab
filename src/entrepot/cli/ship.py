"""``entrepot ship`` and ``entrepot fetch``: move a spool's files to or from a target.

Each run is a job in the ledger: retried within the run on transient
failures, then kept in the backlog and re-run by ``entrepot backlog retry``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.cli.console import err, human_size, out, table
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.cli.jobs import LedgerOption, StateOption, open_ledger
from entrepot.errors import ConfigError, RemoteLocked
from entrepot.jobs import Outcome, Runner
from entrepot.jobs.runner import RunResult
from entrepot.ship import FetchJob, ShipJob, ShipOptions
from entrepot.ship.jobs import RouteJob
from entrepot.targets.url import SECRET_OPTIONS

Protocol = Annotated[
    str, typer.Option("--protocol", help="Delivery protocol: atomic, lock or marker.")
]
Parallel = Annotated[int, typer.Option("--parallel", "-j", help="Transfers at once.", min=1)]
MaxTries = Annotated[int, typer.Option("--max-tries", help="Tries within this run.", min=1)]
RetryDelay = Annotated[
    float, typer.Option("--retry-delay", help="Seconds before the first retry (doubles).")
]
PasswordEnv = Annotated[
    str | None,
    typer.Option("--password-env", help="Environment variable holding the password."),
]
PasswordFile = Annotated[
    Path | None, typer.Option("--password-file", help="File holding the password.")
]
TargetOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="Target option KEY=VALUE (known_hosts, key_file, ca_file, endpoint_url, …).",
    ),
]


def _target_options(
    pairs: list[str] | None, password_env: str | None, password_file: Path | None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"target option {pair!r} is not KEY=VALUE")
        if key in SECRET_OPTIONS:
            raise ConfigError(f"pass {key} through the environment or a file, not the command line")
        options[key] = value
    if password_env:
        options["password_env"] = password_env
    if password_file:
        options["password_file"] = str(password_file)
    return options


def _run(job: RouteJob, state: Path | None, ledger_url: str | None, no_ledger: bool) -> RunResult:
    if no_ledger:
        return Runner(None).run(job)
    with open_ledger(state, ledger_url) as ledger:
        return Runner(ledger).run(job)


def _finish(job: RouteJob, result: RunResult, verb: str) -> int:
    report = job.report
    rows: list[tuple[object, ...]] = [(name, "ok") for name in report.done[:50]]
    if len(report.done) > 50:
        rows.append((f"… and {len(report.done) - 50} more", "ok"))
    rows += [(name, f"failed: {reason}") for name, reason in report.failed.items()]
    if rows:
        out.print(table(f"{verb} → {job.route.display_url}", ("File", "Result"), rows))
    summary = (
        f"{verb}: {len(report.done)} files, {human_size(report.bytes)}; "
        f"{len(report.failed)} failed; job {result.job_id} {result.outcome}"
    )
    if result.outcome is Outcome.EMPTY:
        out.print(f"nothing waiting; job {result.job_id}")
        return ExitCode.OK
    if result.ok:
        out.print(summary)
        return ExitCode.OK
    cause = result.error.__cause__ if result.error else None
    if isinstance(cause, RemoteLocked):
        err.print(f"remote folder locked ({cause}); the job waits in the backlog")
    else:
        err.print(f"[bold red]error:[/] {result.error}", markup=True)
    out.print(summary)
    if result.state is not None:
        err.print(f"job {result.job_id} is now {result.state}")
    return exit_code_for(cause) if cause is not None else ExitCode.FAILED


def ship(
    spool: Annotated[Path, typer.Argument(help="The spool whose new/ files are shipped.")],
    url: Annotated[
        str, typer.Argument(help="Target URL (ftp://, ftps://, sftp://, s3://, file://).")
    ],
    protocol: Protocol = "atomic",
    after: Annotated[
        str, typer.Option("--after", help="Local file after delivery: cur, delete or archive.")
    ] = "cur",
    order: Annotated[str, typer.Option("--order", help="oldest, newest or name.")] = "oldest",
    parallel: Parallel = 1,
    max_tries: MaxTries = 3,
    retry_delay: RetryDelay = 2.0,
    lease: Annotated[
        float | None, typer.Option("--lease", help="Lease of other hosts' claims.")
    ] = None,
    password_env: PasswordEnv = None,
    password_file: PasswordFile = None,
    option: TargetOptions = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")] = False,
) -> int:
    """Deliver every file waiting in the spool's new/ to URL, then move it to cur/."""
    options = ShipOptions(
        protocol=protocol,  # type: ignore[arg-type]
        after=after,  # type: ignore[arg-type]
        order=order,  # type: ignore[arg-type]
        parallel=parallel,
        lease=lease,
    )
    job = ShipJob(
        str(spool),
        url,
        options=options,
        target_options=_target_options(option, password_env, password_file),
        max_tries=max_tries,
        retry_delay=retry_delay,
    )
    waiting = len(job.route.pending())
    if waiting >= 20 and err.is_terminal:
        from rich.progress import Progress

        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("shipping", total=waiting)
            job.progress = lambda name, size: bar.advance(task)
            result = _run(job, state, ledger, no_ledger)
    else:
        result = _run(job, state, ledger, no_ledger)
    return _finish(job, result, "Shipped")


def fetch(
    url: Annotated[str, typer.Argument(help="Remote folder URL to fetch from.")],
    spool: Annotated[Path, typer.Argument(help="The spool to fetch into (its new/).")],
    protocol: Protocol = "atomic",
    remote_after: Annotated[
        str | None,
        typer.Option("--remote-after", help="Move fetched files to this remote folder."),
    ] = None,
    max_tries: MaxTries = 3,
    retry_delay: RetryDelay = 2.0,
    password_env: PasswordEnv = None,
    password_file: PasswordFile = None,
    option: TargetOptions = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")] = False,
) -> int:
    """Download every file of a remote folder into the spool, then delete it remotely."""
    options = ShipOptions(protocol=protocol, remote_after=remote_after)  # type: ignore[arg-type]
    job = FetchJob(
        str(spool),
        url,
        options=options,
        target_options=_target_options(option, password_env, password_file),
        max_tries=max_tries,
        retry_delay=retry_delay,
    )
    return _finish(job, _run(job, state, ledger, no_ledger), "Fetched")


def register(app: typer.Typer) -> None:
    app.command("ship")(ship)
    app.command("fetch")(fetch)
