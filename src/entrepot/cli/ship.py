"""``entrepot ship`` and ``entrepot fetch``: move a spool's files to or from a target.

Each run is a job in the ledger: retried within the run on transient
failures, then kept in the backlog and re-run by ``entrepot backlog retry``.
A run of a route that already has a job waiting joins that job.

Mistakes fail before anything is recorded: a missing spool (exit 4), a bad
option, an unknown scheme, a password that cannot be read or a password in
the URL (exit 3).  ``--dry-run`` shows what would go where and moves nothing.
Ctrl-C and SIGTERM stop a run cleanly (exit 130 and 143): no new file is
started, the transfers in hand finish, claims and the remote lock are
released, and the job is recorded as interrupted.

A ``ship`` with nothing waiting and no job of its route waiting in the
ledger has nothing to do or record: it says so after reading the SQLite
ledger directly (:mod:`entrepot.jobs.summary`), without opening it in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli import console, fetchclaims, ship_results
from entrepot.cli.console import emit_json, is_quiet, say, shown
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import LedgerChoice, LedgerOption, StateOption, open_ledger, state_dir
from entrepot.cli.names import ConfigOption
from entrepot.cli.shipjobs import Wanted, configured_job, job_between, run_ledger, target_overrides
from entrepot.errors import EntrepotError
from entrepot.jobs.summary import has_open_job, ledger_file, sqlite_reader
from entrepot.ship import FetchJob, ShipJob
from entrepot.ship.jobs import RouteJob
from entrepot.spool import Spool
from entrepot.targets.parallel import MAX_PARALLEL
from entrepot.units import parse_duration

if TYPE_CHECKING:
    from entrepot.jobs.runner import RunResult

MaxTries = Annotated[
    int | None, typer.Option("--max-tries", help="Tries within this run (3).", min=1)
]
RetryDelay = Annotated[
    float | None,
    typer.Option(
        "--retry-delay",
        parser=parse_duration,
        help="Wait before the first retry (doubles): 2s (default), 1m.",
    ),
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
NoLedger = Annotated[bool, typer.Option("--no-ledger", help="Do not record the run.")]
NoProvenance = Annotated[
    bool,
    typer.Option("--no-provenance", help="Do not record each file's steps (entrepot trace)."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Show what would go where; move nothing.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_NAMES = "Remote name template, e.g. '{instance}/{route}/{yyyy}/{mm}/{dd}/{name}'."
_CLAIMS = "Claim each file in the ledger first: fetchers share the folder."


def _sweep(value: str) -> float | None:
    if value.strip().lower() in {"never", "off", "no"}:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sweep-partials-after") from None


def _run(job: RouteJob, where: LedgerChoice, no_ledger: bool) -> RunResult:
    from entrepot.jobs.runner import Runner  # not needed when nothing waits

    if no_ledger:
        return Runner(None).run(job)
    with open_ledger(*where) as ledger:
        return Runner(ledger).run(job)


def _nothing_to_settle(job: ShipJob, where: LedgerChoice, no_ledger: bool) -> bool:
    """True when this run would find no file to ship and no job of its route waiting in
    the ledger: then there is nothing to do and nothing to record."""
    if where.url and not no_ledger:
        return False  # a ledger in another database: the full ledger decides
    try:
        job.route.recover()  # as the run would: claims of dead shippers come back first
    except (EntrepotError, OSError):
        return False  # the run fails the same way, and records why
    if job.route.pending():
        return False
    if no_ledger:
        return True
    folder = state_dir(where.state)
    with sqlite_reader(folder) as rows:
        if rows is None:  # no ledger yet (no job can wait), or one to upgrade first
            return not ledger_file(folder).exists()
        return not has_open_job(rows, job.identity())


def ship(
    spool: Annotated[
        str,
        typer.Argument(
            help="The spool whose new/ files are shipped (a folder or a configured spool), "
            "or a configured route alone.",
            show_default=False,
        ),
    ],
    url: Annotated[
        str | None,
        typer.Argument(
            help="Target URL (ftp://, ftps://, sftp://, s3://, file://) or configured target.",
            show_default=False,
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option("--protocol", help="Delivery protocol: atomic (default), lock or marker."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(
            "--after", help="Local file after delivery: cur (default), delete or archive."
        ),
    ] = None,
    order: Annotated[
        str | None, typer.Option("--order", help="oldest (default), newest or name.")
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", "-j", help="Transfers at once (1).", min=1, max=MAX_PARALLEL),
    ] = None,
    conflict: Annotated[
        str | None,
        typer.Option(
            "--conflict",
            help="Remote name taken: replace (default), skip, fail, rename or exclusive.",
        ),
    ] = None,
    remote_name: Annotated[str | None, typer.Option("--remote-name", help=_NAMES)] = None,
    sweep_partials_after: Annotated[
        str | None,
        typer.Option(
            "--sweep-partials-after",
            help="Remove temporary uploads of dead runs older than this (1h) or 'never'.",
        ),
    ] = None,
    max_tries: MaxTries = None,
    retry_delay: RetryDelay = None,
    lease: Annotated[
        float | None,
        typer.Option("--lease", parser=parse_duration, help="Lease of other hosts' claims."),
    ] = None,
    password_env: PasswordEnv = None,
    password_file: PasswordFile = None,
    option: TargetOptions = None,
    config: ConfigOption = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: NoLedger = False,
    no_provenance: NoProvenance = False,
    dry_run: DryRun = False,
    as_json: JsonOption = False,
) -> int:
    """Deliver every file waiting in the spool's new/ to URL, then move it to cur/.

    SPOOL and URL may be names from the configuration file; a route's name
    alone (``entrepot ship to-partner``) runs that route once, as the
    service would, with the options given here on top.
    """
    chosen = {
        "protocol": protocol,
        "after": after,
        "order": order,
        "parallel": parallel,
        "conflict": conflict,
        "lease": lease,
        "remote_name": remote_name,
    }
    given: dict[str, Any] = {key: value for key, value in chosen.items() if value is not None}
    if sweep_partials_after is not None:
        given["sweep_partials_after"] = _sweep(sweep_partials_after)
    if no_provenance:
        given["provenance"] = False
    overrides = target_overrides(option, password_env, password_file)
    wanted = Wanted(given, max_tries, retry_delay, overrides, config)
    if url is None:
        job, spool_name = configured_job(ShipJob, spool, wanted), None
    else:
        job, spool_name = job_between(ShipJob, spool, url, wanted)
    where = run_ledger(job, spool_name, wanted, state, ledger)
    return _ship(job, where, no_ledger, dry_run, as_json)


def _ship(job: ShipJob, where: LedgerChoice, no_ledger: bool, dry_run: bool, as_json: bool) -> int:
    if dry_run:
        to = job.route.display_url.rstrip("/")
        plan = [(entry.name, entry.size, f"{to}/{remote}") for entry, remote in job.route.plan()]
        return ship_results.show_plan(plan, f"would ship from {shown(job.spool_path)}", as_json)
    if _nothing_to_settle(job, where, no_ledger):
        if as_json:
            emit_json(ship_results.result_json(job, None))
        else:
            say("nothing waiting")
        return ExitCode.OK
    waiting = len(job.route.pending())
    if waiting >= 20 and not is_quiet() and not as_json and console.stderr_is_terminal():
        from rich.progress import Progress

        with Progress(console=console.err, transient=True) as bar:
            task = bar.add_task("shipping", total=waiting)
            job.progress = lambda name, size: bar.advance(task)
            result = _run(job, where, no_ledger)
    else:
        result = _run(job, where, no_ledger)
    return ship_results.finish(job, result, "Shipped", as_json)


def fetch(
    url: Annotated[
        str,
        typer.Argument(
            help="Remote folder URL to fetch from, a configured target, or a configured "
            "fetch's name alone."
        ),
    ],
    spool: Annotated[
        str | None,
        typer.Argument(
            help="The spool to fetch into (its new/): a folder or a name.", show_default=False
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option("--protocol", help="Delivery protocol: atomic (default), lock or marker."),
    ] = None,
    remote_after: Annotated[
        str | None,
        typer.Option("--remote-after", help="Move fetched files to this remote folder."),
    ] = None,
    claims: Annotated[bool, typer.Option("--claims", help=_CLAIMS)] = False,
    claim_lease: Annotated[
        float | None,
        typer.Option(
            "--claim-lease", parser=parse_duration, help="Claims of a silent fetcher: 300s."
        ),
    ] = None,
    finish: fetchclaims.FinishOption = None,
    release: fetchclaims.ReleaseOption = None,
    create: Annotated[
        bool, typer.Option("--create", help="Create the spool if it does not exist.")
    ] = False,
    max_tries: MaxTries = None,
    retry_delay: RetryDelay = None,
    password_env: PasswordEnv = None,
    password_file: PasswordFile = None,
    option: TargetOptions = None,
    config: ConfigOption = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
    no_ledger: NoLedger = False,
    no_provenance: NoProvenance = False,
    dry_run: DryRun = False,
    as_json: JsonOption = False,
) -> int:
    """Download every file of a remote folder into the spool, then delete it remotely.

    URL and SPOOL may be names from the configuration file; a fetch's name
    alone runs that fetch once, as the service would.
    """
    chosen = {"protocol": protocol, "remote_after": remote_after, "claim_lease": claim_lease}
    given: dict[str, Any] = {key: value for key, value in chosen.items() if value is not None}
    if claims:
        given["claims"] = True
    if no_provenance:
        given["provenance"] = False
    overrides = target_overrides(option, password_env, password_file)
    wanted = Wanted(given, max_tries, retry_delay, overrides, config)
    if spool is None:
        job, spool_name = configured_job(FetchJob, url, wanted), None
    else:
        job, spool_name = job_between(FetchJob, spool, url, wanted, creating=create)
    local = Spool(job.spool_path)
    if not (create and dry_run):
        (local.prepare() if create else local).check()
    where = run_ledger(job, spool_name, wanted, state, ledger)
    if finish is not None or release is not None:
        return fetchclaims.settle_by_hand(job, where, finish, release)
    if dry_run:
        into = f"{job.spool_path}/new"
        plan = [(info.name, info.size, f"{into}/{info.name}") for info in job.route.plan()]
        return ship_results.show_plan(
            plan, f"would fetch from {shown(job.route.display_url)}", as_json
        )
    return ship_results.finish(job, _run(job, where, no_ledger), "Fetched", as_json)


def register(app: typer.Typer) -> None:
    app.command("ship")(ship)
    app.command("fetch")(fetch)
