"""``entrepot archive cat|ls|verify|stats``: read, list, check and count archives.

Every file named is read on its own: a damaged or unreadable one is reported
(its name escaped for the terminal) and the others are still read.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.archive import MAX_RECORD, ArchiveReader, Report
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.archive.series import creation_key, expand_named
from entrepot.cli.archive import AsJson, Files, IncludeOpen, MaxRecord, archive_app, key_values
from entrepot.cli.console import TERMINAL_SAFE, emit_json, err, human_size, out, shown, table
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ArchiveError, ConfigError


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
    max_record: MaxRecord = MAX_RECORD,
) -> int:
    """Print records as JSON lines, oldest archive first (exit 7 if damage was skipped).

    A damaged or unreadable file is reported on its own; the others are read.
    """
    wanted = key_values(where, "--where")
    damaged = 0
    write_line = sys.stdout.write
    for path, reader in _readers(files, include_open, max_record, strict=strict):
        if not isinstance(reader, ArchiveReader):
            err.print(f"{shown(path)}: {shown(reader)}", soft_wrap=True)
            damaged += 1
            continue
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
            text = json.dumps(line, ensure_ascii=False)
            write_line((text if text.isascii() else text.translate(TERMINAL_SAFE)) + "\n")
        for item in reader.damage:
            err.print(
                f"{shown(path)}: skipped damage at offset {item.offset}: {shown(item.reason)}",
                soft_wrap=True,
            )
        damaged += len(reader.damage)
    sys.stdout.flush()
    return ExitCode.DATA if damaged else ExitCode.OK


@archive_app.command("ls")
def ls(
    files: Files,
    include_open: Annotated[
        bool,
        typer.Option(
            "--include-open/--no-include-open", help="Also list files still being written (.open)."
        ),
    ] = True,
    as_json: AsJson = False,
    max_record: MaxRecord = MAX_RECORD,
) -> int:
    """List archives: format, compression, size, creation time, records and state.

    Files that are not archives are left out; damaged archives are listed.
    """
    listing: list[dict[str, Any]] = []
    for path, reader in _readers(files, include_open, max_record, quiet=True):
        if not isinstance(reader, ArchiveReader):
            continue  # not an archive (or gone): nothing to list
        count = sum(1 for _ in reader)
        listing.append({
            "name": path.name, "path": str(path), "format": reader.version,
            "compression": reader.compression, "size": path.stat().st_size,
            "created": datetime.fromtimestamp(reader.created, UTC).isoformat(),
            "records": count, "state": _state(reader, path),
            "damage": [item._asdict() for item in reader.damage],
        })  # fmt: skip
    if as_json:
        emit_json(listing)
        return ExitCode.OK
    rows = [
        (item["name"], item["format"], item["compression"] or "-", human_size(item["size"]),
         item["created"][:19].replace("T", " "), item["records"], item["state"])
        for item in listing
    ]  # fmt: skip
    columns = ("Name", "Format", "Compression", "Size", "Created (UTC)", "Records", "State")
    out.print(table(f"{len(rows)} archives", columns, rows))
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
def verify_cmd(
    files: Files,
    include_open: IncludeOpen = False,
    as_json: AsJson = False,
    max_record: MaxRecord = MAX_RECORD,
) -> int:
    """Check every record of every archive; report damage with its offset (exit 7 if any)."""
    results: list[dict[str, Any]] = []
    for path, reader in _readers(files, include_open, max_record):
        if not isinstance(reader, ArchiveReader):
            unreadable = {"offset": 0, "reason": str(reader), "skipped": 0}
            results.append({"path": str(path), "ok": False, "records": 0, "damage": [unreadable]})
            continue
        report = Report.of(reader)
        results.append({
            "path": str(path), "ok": report.ok, "records": report.records,
            "format": report.version, "compression": report.compression,
            "sealed": report.sealed, "damage": [item._asdict() for item in report.damage],
        })  # fmt: skip
    bad = sum(1 for result in results if not result["ok"])
    if as_json:
        emit_json(results)
    else:
        for result in results:
            name = shown(result["path"])
            if result["ok"]:
                out.print(f"ok      {name} ({result['records']} records)")
                continue
            out.print(f"DAMAGED {name} ({result['records']} intact records)")
            for item in result["damage"]:
                out.print(f"  offset {item['offset']}: {shown(item['reason'])}", soft_wrap=True)
        err.print(f"{len(results) - bad} ok, {bad} damaged")
    return ExitCode.DATA if bad else ExitCode.OK


@archive_app.command("stats")
def stats(
    files: Files,
    as_json: AsJson = False,
    include_open: IncludeOpen = False,
    max_record: MaxRecord = MAX_RECORD,
) -> int:
    """Count files, records, bytes, payload types and metadata keys."""
    kinds: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    figures: dict[str, Any] = {"files": 0, "records": 0, "bytes": 0, "damaged": 0}
    created: list[float] = []
    for path, reader in _readers(files, include_open, max_record):
        if not isinstance(reader, ArchiveReader):
            err.print(f"{shown(path)}: {shown(reader)}", soft_wrap=True)
            figures["damaged"] += 1
            continue
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
        emit_json(figures)
    else:
        rows = [(key, value) for key, value in figures.items() if not isinstance(value, dict)]
        rows += [(f"payload {k}", v) for k, v in kinds.items()]
        rows += [(f"key {k}", v) for k, v in keys.most_common()]
        out.print(table("archive statistics", ("Figure", "Count"), rows))
    return ExitCode.DATA if figures["damaged"] else ExitCode.OK


def _readers(
    files: list[str],
    include_open: bool,
    max_record: int,
    *,
    quiet: bool = False,
    strict: bool = False,
) -> Iterator[tuple[Path, ArchiveReader | Exception]]:
    """Each archive named, opened (and closed after use), or the error that stopped it.

    With ``strict`` a file that cannot be opened raises instead.
    """
    found = _archives(files, include_open, quiet=quiet)
    for path in sorted(found, key=creation_key):
        try:
            reader = ArchiveReader(path, strict=strict, max_record=max_record, follow=found[path])
        except (ArchiveError, OSError) as exc:
            if strict:
                raise
            yield path, exc
            continue
        with reader:
            yield path, reader


def _archives(files: list[str], include_open: bool, *, quiet: bool = False) -> dict[Path, bool]:
    """Expand folders and globs: each file, and whether it was named (a symbolic link is
    followed only then: never out of a folder).  A named file that is missing, or a glob
    that matches no file, is an error.

    A folder or file that exists is taken literally, even when its name has
    glob characters (``[``) in it.
    """
    found: dict[Path, bool] = {}
    for item in files:
        path = Path(item)
        if path.is_dir():
            found.update(
                expand_named([os.path.join(glob.escape(item), "*")], include_open=include_open)
            )
        elif os.path.lexists(item):
            if include_open or not item.endswith(OPEN_SUFFIX):
                found[path] = True
        elif not glob.has_magic(item):
            raise ConfigError(f"no such archive: {item}")
        elif not (matched := expand_named([item], include_open=include_open)):
            raise ConfigError(f"no archive matches {item}")
        else:
            found.update(matched)
    if not found and not quiet:
        err.print("no archives found")
    unique: dict[str, Path] = {}
    for path in found:  # one file named twice (a.events, ./a.events, a folder's): read once
        unique.setdefault(os.path.abspath(path), path)
    return {path: found[path] for path in unique.values()}
