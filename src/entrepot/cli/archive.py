"""``entrepot archive …``: write events from JSON lines, read, list, verify and count archives."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.archive import (
    DEFAULT_TEMPLATE,
    ArchiveReader,
    RollingWriter,
    combine,
    load_policy,
    verify,
)
from entrepot.archive.series import creation_key, expand
from entrepot.cli.console import err, human_size, out, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ArchiveError, ConfigError

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

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str) -> int:
    """``10MB`` → 10,000,000; ``10MiB`` → 10,485,760; a bare number is bytes."""
    match = _SIZE.match(text)
    if not match:
        raise typer.BadParameter(f"not a size: {text!r} (try 10MB or 512KiB)")
    unit = (match.group(2) or "").lower()
    scale = _UNITS[unit[:1]] if "i" not in unit else 1024 ** " kmgt".index(unit[0])
    return int(float(match.group(1)) * scale)


def parse_duration(text: str) -> float:
    """``90`` or ``90s``, ``5m``, ``2h``, ``1d``, ``500ms`` → seconds."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"not a duration: {text!r} (try 30s, 5m or 1h)")
    return float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
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
        str | None, typer.Option("--max-size", help="Roll at this size (10MB, 64MiB).")
    ] = None,
    max_records: Annotated[
        int | None, typer.Option("--max-records", help="Roll after this many records.")
    ] = None,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="Roll files older than this (30s, 5m, 1h).")
    ] = None,
    max_idle: Annotated[
        str | None, typer.Option("--max-idle", help="Roll after this long without events.")
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="A plugged-in roll policy: NAME or NAME:key=value,…"),
    ] = None,
    compress: Annotated[str, typer.Option("--compress", "-z", help="zstd, gzip or none.")] = "none",
    spool: Annotated[
        Path | None, typer.Option("--spool", help="Deliver finished archives into this spool.")
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
) -> int:
    """Append JSON lines from standard input as events (each line's value is the payload)."""
    extra = tuple(_plugin_policy(spec) for spec in policy or [])
    roll = combine(
        max_bytes=parse_size(max_size) if max_size else None,
        max_records=max_records,
        max_age=parse_duration(max_age) if max_age else None,
        max_idle=parse_duration(max_idle) if max_idle else None,
        extra=extra,
    )
    common = _pairs(meta, "--meta")
    writer = RollingWriter(
        directory, template, policy=roll, compression=compress, spool=spool, sync=sync
    )
    count = 0
    try:
        for number, line in enumerate(_input_lines(writer.tick), start=1):
            if not line.strip():
                continue
            try:
                metadata, payload = _event(json.loads(line), common, envelope)
            except (ValueError, TypeError) as exc:
                err.print(f"line {number}: {exc}; stopped (earlier events are kept)")
                return ExitCode.DATA
            writer.write(metadata, payload)
            count += 1
            writer.tick()
    finally:
        writer.close()
    for path in writer.finished:
        out.print(str(path))
    err.print(f"{count} events in {len(writer.finished)} archives")
    return ExitCode.OK


#: How often a quiet input is interrupted to let idle/age rolls and interval syncs happen.
TICK_SECONDS = 0.5


def _input_lines(tick: Callable[[], object]) -> Iterator[str]:
    """Lines of standard input; ``tick()`` runs every half second while it is quiet.

    So ``tail -f log | entrepot archive write --max-idle 30s`` seals an idle
    archive on time, not when the next line happens to arrive.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        yield from sys.stdin  # not a real file (an in-process test): no waiting
        return
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], TICK_SECONDS)
        if not ready:
            tick()
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8")
    if pending:
        yield pending.decode("utf-8")


def _plugin_policy(spec: str) -> Any:
    name, _, options = spec.partition(":")
    values: dict[str, Any] = {}
    for key, value in _pairs([item for item in options.split(",") if item], "--policy").items():
        try:
            values[key] = json.loads(value)
        except ValueError:
            values[key] = value
    return load_policy(name, **values)


def _event(value: Any, common: dict[str, str], envelope: bool) -> tuple[dict[str, str], Any]:
    if not envelope:
        return dict(common), value
    if not isinstance(value, dict) or "payload" not in value:
        raise ValueError('an envelope line needs a "payload" (and may have "metadata")')
    metadata = {**common, **value.get("metadata", {})}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata values must be strings")
    payload = value["payload"]
    if value.get("payload_encoding") == "base64":
        payload = base64.b64decode(payload, validate=True)
    return metadata, payload


@archive_app.command("cat")
def cat(
    files: Files,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", help="Only records whose metadata has KEY=VALUE."),
    ] = None,
    offsets: Annotated[
        bool, typer.Option("--offsets", help="Add each record's file and byte offset.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first damaged record.")
    ] = False,
    include_open: IncludeOpen = False,
) -> int:
    """Print records as JSON lines, oldest archive first (exit 7 if damage was skipped)."""
    wanted = _pairs(where, "--where")
    damaged = 0
    write_line = sys.stdout.write
    for path in _archives(files, include_open):
        with ArchiveReader(path, strict=strict) as reader:
            for record in reader:
                metadata = record.metadata
                if wanted and any(metadata.get(k) != v for k, v in wanted.items()):
                    continue
                line: dict[str, Any] = {"metadata": metadata}
                if isinstance(record.payload, bytes):
                    line["payload"] = base64.b64encode(record.payload).decode("ascii")
                    line["payload_encoding"] = "base64"
                else:
                    line["payload"] = record.payload
                if offsets:
                    line["file"] = str(path)
                    line["offset"] = record.offset
                write_line(json.dumps(line, ensure_ascii=False) + "\n")
            for item in reader.damage:
                err.print(f"{path}: skipped damage at offset {item.offset}: {item.reason}")
            damaged += len(reader.damage)
    sys.stdout.flush()
    return ExitCode.DATA if damaged else ExitCode.OK


@archive_app.command("ls")
def ls(files: Files, include_open: IncludeOpen = True) -> int:
    """List archives: format, compression, size, creation time, records and state."""
    rows = []
    for path in _archives(files, include_open, quiet=True):
        try:
            with ArchiveReader(path) as reader:
                count = sum(1 for _ in reader)
                state = _state(reader, path)
                created = datetime.fromtimestamp(reader.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
                rows.append(
                    (path.name, reader.version, reader.compression or "-",
                     human_size(path.stat().st_size), created, count, state)
                )  # fmt: skip
        except ArchiveError:
            continue
    out.print(
        table(
            f"{len(rows)} archives",
            ("Name", "Format", "Compression", "Size", "Created (UTC)", "Records", "State"),
            rows,
        )
    )
    return ExitCode.OK


def _state(reader: ArchiveReader, path: Path) -> str:
    if reader.damage:
        return f"damaged ({len(reader.damage)})"
    if path.name.endswith(".open"):
        return "open"
    if reader.torn_at is not None:
        return "truncated"
    if reader.version >= 2 and not reader.sealed:
        return "unsealed"
    return "sealed" if reader.version >= 2 else "ok"


@archive_app.command("verify")
def verify_cmd(files: Files, include_open: IncludeOpen = False) -> int:
    """Check every record of every archive; report damage with its offset (exit 7 if any)."""
    bad = 0
    paths = _archives(files, include_open)
    for path in paths:
        try:
            report = verify(path)
        except ArchiveError as exc:
            bad += 1
            out.print(f"DAMAGED {path}: {exc}")
            continue
        if report.ok:
            out.print(f"ok      {path} ({report.records} records)")
            continue
        bad += 1
        out.print(f"DAMAGED {path} ({report.records} intact records)")
        for item in report.damage:
            out.print(f"  offset {item.offset}: {item.reason}")
    err.print(f"{len(paths) - bad} ok, {bad} damaged")
    return ExitCode.DATA if bad else ExitCode.OK


@archive_app.command("stats")
def stats(
    files: Files,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    include_open: IncludeOpen = False,
) -> int:
    """Count files, records, bytes, payload types and metadata keys."""
    kinds: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    figures: dict[str, Any] = {"files": 0, "records": 0, "bytes": 0, "damaged": 0}
    created: list[float] = []
    for path in _archives(files, include_open):
        with ArchiveReader(path) as reader:
            figures["files"] += 1
            figures["bytes"] += path.stat().st_size
            created.append(reader.created)
            for record in reader:
                figures["records"] += 1
                payload = record.payload
                kinds["bytes" if isinstance(payload, bytes) else
                      "text" if isinstance(payload, str) else "json"] += 1  # fmt: skip
                keys.update(record.metadata.keys())
            figures["damaged"] += len(reader.damage)
    figures["payload_types"] = dict(kinds)
    figures["metadata_keys"] = dict(keys.most_common())
    if created:
        figures["oldest"] = datetime.fromtimestamp(min(created), UTC).isoformat()
        figures["newest"] = datetime.fromtimestamp(max(created), UTC).isoformat()
    if as_json:
        out.print(json.dumps(figures, indent=2))
    else:
        rows = [(key, value) for key, value in figures.items() if not isinstance(value, dict)]
        rows += [(f"payload {k}", v) for k, v in kinds.items()]
        rows += [(f"key {k}", v) for k, v in keys.most_common()]
        out.print(table("archive statistics", ("Figure", "Count"), rows))
    return ExitCode.DATA if figures["damaged"] else ExitCode.OK


def _archives(files: list[str], include_open: bool, *, quiet: bool = False) -> list[Path]:
    """Expand folders and globs; a named file that is missing is an error."""
    patterns: list[str] = []
    for item in files:
        path = Path(item)
        if path.is_dir():
            patterns.append(str(path / "*"))
        elif not any(ch in item for ch in "*?[") and not path.exists():
            raise ConfigError(f"no such archive: {item}")
        else:
            patterns.append(item)
    paths = sorted(expand(patterns, include_open=include_open), key=creation_key)
    if not paths and not quiet:
        err.print("no archives found")
    return paths


def register(app: typer.Typer) -> None:
    """Add the ``archive`` group to the ``entrepot`` command."""
    app.add_typer(archive_app)
