"""``entrepot archive …``: the command group, and ``write`` (events from JSON lines).

The reading commands (``cat``, ``ls``, ``verify``, ``stats``) live in
:mod:`entrepot.cli.archive_read` and join the group when it is registered.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.archive import (
    DEFAULT_TEMPLATE,
    MAX_RECORD,
    RollingWriter,
    combine,
    load_policy,
)
from entrepot.cli import names
from entrepot.cli.console import emit_json, err, out, shown
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import StateOption, recording_folder
from entrepot.cli.lines import Line, LineInput, LineTooLong, signals_held
from entrepot.cli.names import ConfigOption
from entrepot.errors import ConfigError, RecordTooLarge
from entrepot.spool import Spool
from entrepot.units import parse_duration, parse_size

archive_app = typer.Typer(
    name="archive",
    help="Rolling event archives: write events, read them back, check them.",
    no_args_is_help=True,
)

Files = Annotated[
    list[str], typer.Argument(help="Archive files, folders or glob patterns (quote the glob).")
]
IncludeOpen = Annotated[
    bool, typer.Option("--include-open", help="Also read files still being written (.open).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
MaxRecord = Annotated[
    int,
    typer.Option(
        "--max-record", parser=parse_size, help="Largest record accepted (metadata + payload)."
    ),
]


def key_values(items: list[str] | None, what: str) -> dict[str, str]:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{what} must be KEY=VALUE, not {item!r}")
        result[key] = value
    return result


@archive_app.command("write")
def write(
    directory: Annotated[Path, typer.Argument(help="Folder the archives are written to.")],
    template: Annotated[
        str,
        typer.Option("--template", "-t", help="File name: strftime fields, {host} {seq} {uuid}."),
    ] = DEFAULT_TEMPLATE,
    max_size: Annotated[
        int | None,
        typer.Option("--max-size", parser=parse_size, help="Roll at this size (10MB, 64MiB)."),
    ] = None,
    max_records: Annotated[
        int | None, typer.Option("--max-records", min=1, help="Roll after this many records.")
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option("--max-age", parser=parse_duration, help="Roll files this old (30s, 1h30m)."),
    ] = None,
    max_idle: Annotated[
        float | None,
        typer.Option("--max-idle", parser=parse_duration, help="Roll after this long idle."),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="A plugged-in roll policy: NAME or NAME:key=value,…"),
    ] = None,
    compress: Annotated[str, typer.Option("--compress", "-z", help="zstd, gzip or none.")] = "none",
    spool: Annotated[
        str | None,
        typer.Option(
            "--spool", help="Deliver finished archives into this spool (a folder or a name)."
        ),
    ] = None,
    sync: Annotated[
        str, typer.Option("--sync", help="Make records durable: record, roll, or every N ms.")
    ] = "roll",
    meta: Annotated[
        list[str] | None, typer.Option("--meta", "-m", help="Metadata KEY=VALUE for every event.")
    ] = None,
    envelope: Annotated[
        bool,
        typer.Option(
            "--envelope",
            help='Each line is {"metadata": {...}, "payload": ...} (what `cat` prints).',
        ),
    ] = False,
    max_record: MaxRecord = MAX_RECORD,
    as_json: AsJson = False,
    config: ConfigOption = None,
    state: StateOption = None,
    no_provenance: Annotated[
        bool, typer.Option("--no-provenance", help="Do not record the archives' steps.")
    ] = False,
) -> int:
    """Append JSON lines from standard input as events (each line's value is the payload).

    SIGTERM and Ctrl-C stop the reading: every line already read is written,
    the archive is sealed and handed on, and the command exits 143 or 130.
    Each archive's steps (archived, sealed, handed off and received into the
    spool) are recorded in the state folder (when it exists or is named),
    where ``entrepot trace`` finds them.
    """
    extra = tuple(_plugin_policy(spec) for spec in policy or [])
    roll = combine(
        max_bytes=max_size, max_records=max_records, max_age=max_age, max_idle=max_idle, extra=extra
    )
    common = key_values(meta, "--meta")
    # A spool that is not there is a mistake (a typo, a URL): never made here.
    hand_off = None if spool is None else Spool(names.spool_path(spool, config)[0]).check().root
    # The state folder records the archives' steps, as it records a put's receipts.
    provenance = None if no_provenance else recording_folder(state)
    writer = RollingWriter(
        directory, template, policy=roll, compression=compress, spool=hand_off, sync=sync,
        max_record=max_record, provenance=provenance,
    )  # fmt: skip
    store = _Store(writer, common, envelope)
    lines = LineInput(sys.stdin, limit=line_limit(max_record))
    try:
        try:
            while store.code == ExitCode.OK:
                if not lines.wait(TICK_SECONDS):
                    writer.tick()
                    continue
                # What is taken from the input is written before a signal can act.
                with signals_held():
                    batch = lines.take()
                    if batch is None:
                        break
                    store.add(batch)
        except KeyboardInterrupt:
            with signals_held(), contextlib.suppress(LineTooLong):
                store.add(lines.rest_of_line())
            if lines.pending:
                err.print(f"line {lines.number + 1} was cut short by the stop and is not stored")
            raise
        except LineTooLong as exc:
            err.print(f"{exc}: longer than any record can be; stopped (earlier events are kept)")
            store.code = ExitCode.DATA
    finally:
        writer.close()
    if as_json:
        emit_json({"events": writer.records, "archives": [str(p) for p in writer.finished]})
    else:
        for path in writer.finished:
            out.print(shown(path))
        err.print(f"{writer.records} events in {len(writer.finished)} archives")
    return store.code


#: How often a quiet input is interrupted to let idle/age rolls and interval syncs happen.
TICK_SECONDS = 0.5


def line_limit(max_record: int) -> int:
    """The longest input line that may hold a record of ``max_record`` bytes: JSON writes
    a byte of text as six at most (``\\u0001``), and an envelope adds its metadata."""
    return 6 * max_record + (1 << 20)


class _Store:
    """Writes numbered input lines as events; stops at the first line that is not one."""

    def __init__(self, writer: RollingWriter, common: dict[str, str], envelope: bool) -> None:
        self.writer = writer
        self.common = common
        self.envelope = envelope
        self.code = ExitCode.OK

    def add(self, batch: list[Line]) -> None:
        for number, line in batch:
            if self.code != ExitCode.OK or not line.strip():
                continue
            try:
                value = json.loads(line, parse_constant=_no_constant)
                metadata, payload = _event(value, self.common, self.envelope)
                self.writer.write(metadata, payload)
            except (ValueError, TypeError, RecursionError, RecordTooLarge) as exc:
                # RecursionError: arrays or objects nested past what the parser can hold.
                why = "nested too deeply" if isinstance(exc, RecursionError) else shown(exc)
                err.print(f"line {number}: {why}; stopped (earlier events are kept)")
                self.code = ExitCode.DATA
            except ConfigError as exc:
                # A new archive's name that outgrew its room (a wider {seq}): nothing is in it.
                err.print(
                    f"line {number} is not stored: {shown(exc)}; stopped (earlier events are kept)"
                )
                self.code = ExitCode.CONFIG


def _plugin_policy(spec: str) -> Any:
    name, _, options = spec.partition(":")
    values: dict[str, Any] = {}
    for key, value in key_values([item for item in options.split(",") if item], "--policy").items():
        try:
            values[key] = json.loads(value)
        except ValueError:
            values[key] = value
    return load_policy(name, **values)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259)")


def _event(value: Any, common: dict[str, str], envelope: bool) -> tuple[dict[str, str], Any]:
    if not envelope:
        return dict(common), value
    if not isinstance(value, dict) or "payload" not in value:
        raise ValueError('an envelope line needs a "payload" (and may have "metadata")')
    metadata = {**common, **value.get("metadata", {})}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata values must be strings")
    payload = value["payload"]
    encoding = value.get("payload_encoding")
    if encoding == "base64":
        payload = base64.b64decode(payload, validate=True)
    elif encoding is not None:
        raise ValueError(f"unknown payload_encoding {encoding!r} (base64, or none)")
    return metadata, payload


def register(app: typer.Typer) -> None:
    """Add the ``archive`` group to the ``entrepot`` command."""
    import_module("entrepot.cli.archive_read")  # adds cat, ls, verify and stats to the group
    app.add_typer(archive_app)
