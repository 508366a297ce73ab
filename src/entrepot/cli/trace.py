"""``entrepot trace`` and ``entrepot receipt``: where files went, from the ledger.

``trace NAME`` prints the journey of every file whose name matches NAME (a
shell glob), one line per event, and a one-line verdict per file; no event
at all is exit 4.  ``trace --undelivered --since 1d`` lists the files
received and not delivered anywhere since.  ``receipt SPOOL`` writes what a
spool delivered, with checksums, as CSV or JSON — the manifest an operator
sends a partner who says a file never arrived.

Times given to ``--since``/``--until`` are either a duration back from now
(``90m``, ``1d``) or a date or time (``2026-12-05``, ``2026-12-05T02:00:00``,
UTC unless it carries an offset).  Both commands first record the events
that commands which could not open the ledger left in the state folder's
journal, or that a process killed meanwhile left there.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli.console import emit_json, human_size, print_error, say
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import LedgerOption, StateOption, open_ledger, state_dir
from entrepot.errors import ConfigError
from entrepot.provenance.events import Event, Kind, place_of
from entrepot.units import parse_duration

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

When = Annotated[
    str | None,
    typer.Option(help="A duration back from now (1d, 90m) or a date/time (UTC by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")]

#: Receipt columns, in order.
RECEIPT_COLUMNS = (
    "name",
    "size",
    "sha256",
    "delivered_at",
    "result",
    "target",
    "remote_name",
    "remote_size",
    "remote_checksum",
    "job_id",
    "attempt",
)


def parse_when(text: str | None, now: datetime) -> datetime | None:
    """``text`` as an aware time: a duration before ``now``, or an ISO date or time."""
    if text is None:
        return None
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither a duration (1d, 90m) nor a date or time (2026-12-05T02:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        str | None, typer.Argument(help="File name, or a glob such as 'report-*.csv'.")
    ] = None,
    route: Annotated[
        Path | None, typer.Option("--route", help="Only files of this spool (its folder).")
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
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> int:
    """Show where files went: every step of their journey, and a verdict."""
    from entrepot.provenance.reader import by_file, find, verdict
    from entrepot.provenance.reader import undelivered as waiting

    if name is None and not undelivered:
        raise typer.BadParameter("give a file NAME or --undelivered", param_hint="NAME")
    now = datetime.now(UTC)
    start, end = parse_when(since, now), parse_when(until, now)
    place = place_of(route) if route is not None else None
    with open_ledger(state, ledger) as opened:
        engine = _engine_of(opened, state)
        if undelivered:
            events = waiting(engine, since=start, until=end, place=place)
            if name is not None:
                from fnmatch import fnmatchcase

                events = [e for e in events if fnmatchcase(e.name, name)]
            return _show_waiting(events, as_json)
        events = find(engine, name, place=place, target=target, since=start, until=end)
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
        print_error(f"no trace of {name!r} in the ledger", label="not found")
        return ExitCode.NOT_FOUND
    return ExitCode.OK


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
    route: Annotated[Path, typer.Argument(help="The spool whose deliveries are listed.")],
    since: When = None,
    until: When = None,
    output_format: Annotated[str, typer.Option("--format", help="csv (default) or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")
    ] = None,
    state: StateOption = None,
    ledger: LedgerOption = None,
) -> int:
    """Write a delivery receipt: each file a spool delivered, where, when, with checksums."""
    from entrepot.provenance.reader import deliveries

    if output_format not in ("csv", "json"):
        raise ConfigError(f"unknown receipt format {output_format!r}: use csv or json")
    now = datetime.now(UTC)
    with open_ledger(state, ledger) as opened:
        events = deliveries(
            _engine_of(opened, state),
            place_of(route),
            since=parse_when(since, now),
            until=parse_when(until, now),
        )
    rows = [receipt_row(event) for event in events]
    if output_format == "json":
        import json

        text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, RECEIPT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return ExitCode.OK


def receipt_row(event: Event) -> dict[str, Any]:
    """One delivery as a receipt line."""
    d = event.details
    checksum = event.checksum or ""
    return {
        "name": event.name,
        "size": event.size,
        "sha256": checksum.removeprefix("sha256:"),
        "delivered_at": event.at.astimezone(UTC).isoformat(),
        "result": "identical, kept" if event.kind is Kind.SKIPPED else "delivered",
        "target": event.target,
        "remote_name": d.get("remote_name"),
        "remote_size": d.get("remote_size"),
        "remote_checksum": d.get("remote_checksum"),
        "job_id": event.job_id,
        "attempt": event.attempt,
    }


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.command("receipt")(receipt)
