"""``entrepot trace`` and ``entrepot receipt``: where files went, from the ledger.

``trace NAME`` prints the journey of every file whose name matches NAME (a
shell glob), one line per event, and a one-line verdict per file; no event
at all is exit 4.  ``trace --undelivered --since 1d`` lists the files
received and not delivered anywhere since.  ``receipt ROUTE`` writes what a
route delivered (its spool's deliveries to its target; a spool's name or
folder: every delivery from it), with checksums, as CSV or JSON — the
manifest an operator sends a partner who says a file never arrived.

Times given to ``--since``/``--until`` are either a duration back from now
(``90m``, ``1d``) or a date or time (``2026-12-05``, ``2026-12-05T02:00:00``,
UTC unless it carries an offset).  Both commands first record the events
that commands which could not open the ledger left in the state folder's
journal, or that a process killed meanwhile left there.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli.console import emit_json, human_size, is_quiet, print_error, say
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import (
    LedgerOption,
    StateOption,
    open_ledger,
    recorded,
    recorded_in,
    state_dir,
)
from entrepot.cli.names import ConfigOption, ledger_for
from entrepot.cli.scopes import Scope, scope_of
from entrepot.durable import is_stream, output_text
from entrepot.errors import ConfigError
from entrepot.provenance.events import Event, Kind
from entrepot.redact import printable
from entrepot.units import parse_moment

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

When = Annotated[
    str | None,
    typer.Option(help="A duration back from now (1d, 90m) or a date/time (UTC by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")]


def parse_when(text: str | None, now: datetime) -> datetime | None:
    """``text`` as an aware time (see :func:`entrepot.units.parse_moment`); None stays None."""
    if text is None:
        return None
    try:
        return parse_moment(text, now)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``--since`` and ``--until`` as aware times; a window that ends before it starts is
    a mistake (:class:`~entrepot.errors.ConfigError`), not an empty answer."""
    now = datetime.now(UTC)
    start, end = parse_when(since, now), parse_when(until, now)
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"--since {since} is not before --until {until}: nothing is between")
    return start, end


def _engine_of(ledger: Any, state: Path | None) -> Engine:
    """The ledger's engine, after the events waiting in journals were recorded."""
    from entrepot.provenance.journal import JOURNAL_DIR
    from entrepot.provenance.recorder import recover_journals
    from entrepot.provenance.schema import ensure_tables

    engine: Engine = ledger.engine
    ensure_tables(engine)
    recover_journals(engine, (ledger.state_dir or state_dir(state)) / JOURNAL_DIR)
    return engine


def trace(
    name: Annotated[
        str | None,
        typer.Argument(
            help="File name, or a glob such as 'report-*.csv' (which finds the name it spells too)."
        ),
    ] = None,
    route: Annotated[
        str | None,
        typer.Option(
            "--route", help="Only files of this route's spool, or of a spool (name or folder)."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Only events whose target URL contains this.")
    ] = None,
    since: When = None,
    until: When = None,
    undelivered: Annotated[
        bool, typer.Option("--undelivered", help="List files received but not delivered.")
    ] = False,
    state: StateOption = None,
    config: ConfigOption = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> int:
    """Show where files went: every step of their journey, and a verdict."""
    from entrepot.provenance.reader import LIMIT, by_file, find, matches, verdict
    from entrepot.provenance.reader import undelivered as waiting

    if name is None and not undelivered:
        raise typer.BadParameter("give a file NAME or --undelivered", param_hint="NAME")
    if name == "":
        raise typer.BadParameter("an empty NAME matches no file: give a name or a glob ('*')",
                                 param_hint="NAME")  # fmt: skip
    start, end = window(since, until)
    state = recorded_in(state)
    scope = scope_of(route, config) if route is not None else None
    place = scope.place if scope is not None else None
    choice = scope.ledger(config, state, ledger) if scope else ledger_for(config, state, ledger)
    with open_ledger(*recorded(choice)) as opened:
        engine = _engine_of(opened, state)
        if undelivered:
            events = waiting(engine, since=start, until=end, place=place)
            if name is not None:
                events = [e for e in events if matches(e.name, name)]
            return _show_waiting(events, as_json)
        events = find(engine, name, place=place, target=target, since=start, until=end,
                      limit=LIMIT)  # fmt: skip
    if len(events) >= LIMIT:
        print_error(f"only the first {LIMIT:,} events are shown: narrow the search with "
                    "--since, --until or --route", label="note")  # fmt: skip
    journeys = by_file(events)
    if as_json:
        emit_json(
            [
                {"place": p, "name": n, "verdict": verdict(j), "events": [e.as_json() for e in j]}
                for (p, n), j in journeys.items()
            ]
        )
    for (place_name, file_name), journey in journeys.items():
        if as_json:
            break
        say(f"{place_name}/{file_name}")
        for event in journey:
            say("  " + event_line(event))
        say(f"  → {verdict(journey)}")
    if not journeys:
        print_error(f"no trace of {name!r} in the ledger{_where(scope)}", label="not found")
        return ExitCode.NOT_FOUND
    return ExitCode.OK


def _where(scope: Scope | None) -> str:
    """Where a search found nothing, for its message: the place ``--route`` kept, and
    whether that was a folder that is not there (a route's name mistyped, or no
    configuration to name it)."""
    if scope is None:
        return ""
    if scope.folder is not None and not scope.folder.is_dir():
        return f" of {scope.place}: no such folder, and no configured route or spool of that name"
    return f" among the files of {scope.place}"


def event_line(event: Event) -> str:
    """One event as a line of ``trace``."""
    from entrepot.provenance.reader import clock

    parts = [clock(event.at), f"{event.kind:<10}"]
    d = event.details
    if event.size is not None:
        parts.append(human_size(event.size))
    if event.checksum:
        parts.append(event.checksum[:23] + "…")
    if event.kind is Kind.RECEIVED and d.get("source"):
        parts.append(f"from {d['source']}")
    if event.target:
        parts.append(f"{'to' if event.kind is not Kind.FAILED else 'for'} {event.target}")
    if d.get("remote_name"):
        parts.append(f"as {d['remote_name']}")
    if d.get("remote_checksum"):
        parts.append(f"remote {d['remote_checksum']}")
    # Across a fleet: the instance that took the step, the object and its version.
    parts += [f"{what} {d[what]}" for what in ("instance", "key", "etag") if d.get(what)]
    if event.kind is Kind.MOVED:
        parts.append(f"to {d.get('to')}/")
    if d.get("reason"):
        parts.append(f"({d['reason']}, code {d.get('code')})")
    if event.attempt is not None:
        parts.append(f"try {event.attempt}")
    if event.job_id:
        parts.append(f"job {event.job_id}")
    return "  ".join(str(part) for part in parts)


def _show_waiting(events: list[Event], as_json: bool) -> int:
    if as_json:
        emit_json([e.as_json() for e in events])
        return ExitCode.OK
    from entrepot.provenance.reader import clock

    for event in events:
        size = human_size(event.size) if event.size is not None else "?"
        say(f"{clock(event.at)}  {event.place}/{event.name}  {size}  not delivered")
    say(f"{len(events)} files received and not delivered")
    return ExitCode.OK


def receipt(
    route: Annotated[
        str,
        typer.Argument(
            help="A route of the configuration (its spool's deliveries to its target), "
            "or a spool: its name or folder (every delivery from it)."
        ),
    ],
    since: When = None,
    until: When = None,
    output_format: Annotated[str, typer.Option("--format", help="csv (default) or json.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default, or -: stdout)."),
    ] = None,
    config: ConfigOption = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Write a delivery receipt: each file a route delivered, where, when, with checksums."""
    from entrepot.provenance.reader import deliveries
    from entrepot.provenance.receipts import receipt_format, write_receipt

    chosen = receipt_format(output_format)
    start, end = window(since, until)
    if output is not None and str(output) != "-":
        _check_output(output)
    state = recorded_in(state)
    scope = scope_of(route, config)
    with open_ledger(*recorded(scope.ledger(config, state, ledger))) as opened:
        engine = _engine_of(opened, state)
        # A folder that is not there, and never delivered anything: a mistake.
        if scope.folder is not None and not scope.folder.is_dir() and _none(engine, scope.place):
            print_error(f"no spool at {route} and no delivery from it in the ledger",
                        label="not found")  # fmt: skip
            return ExitCode.NOT_FOUND
        listed = deliveries(engine, scope.place, target=scope.target, since=start, until=end)
        if output is None or str(output) == "-":
            write_receipt(listed, chosen, sys.stdout)
            return ExitCode.OK
        streaming = is_stream(output)
        with output_text(output) as out:
            count = write_receipt(listed, chosen, out)
    told = f"{count:,} {'delivery' if count == 1 else 'deliveries'} written to {output}"
    if not streaming:
        say(told)
    elif not is_quiet():  # into /dev/stdout or a pipe: beside the receipt, not among it
        typer.echo(printable(told), err=True)
    return ExitCode.OK


def _check_output(path: Path) -> None:
    """Refuse, before anything is read, a receipt file that cannot be written where asked."""
    if path.is_dir():
        raise ConfigError(f"--output {path} is a folder: name the file to write")
    if not is_stream(path) and not path.absolute().parent.is_dir():
        raise FileNotFoundError(f"--output {path}: no folder {path.absolute().parent}")


def _none(engine: Engine, place: str) -> bool:
    """Whether ``place`` never delivered anything (one row read)."""
    from entrepot.provenance.reader import deliveries

    found = deliveries(engine, place, page=1)
    try:
        return next(found, None) is None
    finally:
        found.close()


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.command("receipt")(receipt)
