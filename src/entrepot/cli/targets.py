"""``entrepot put|ls|get|check``: move files to and from any target URL or configured target.

How each command reaches its target — ``-o`` options, where the password
comes from, configured names — is one rule, in :mod:`entrepot.cli.connecting`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

import typer

from entrepot.cli.connecting import Connecting, connecting
from entrepot.cli.console import (
    emit_json,
    err,
    human_age,
    human_size,
    out,
    shown,
    table,
    transfer_bar,
)
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.durable import is_stream
from entrepot.errors import ConfigError, EntrepotError, VerificationFailed
from entrepot.redact import printable
from entrepot.targets import (
    CONFLICT_POLICIES,
    Conflict,
    RemoteInfo,
    Target,
    Transfer,
    open_target,
    upload_many,
)
from entrepot.targets.parallel import MAX_PARALLEL

UrlArg = Annotated[
    str,
    typer.Argument(
        help="Target URL, e.g. sftp://user@host:22/folder, or a configured target's name."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def split_file_url(url: str) -> tuple[str, str]:
    """``scheme://host/folder/name?query`` → (``scheme://host/folder?query``, ``name``)."""
    base, qmark, query = url.partition("?")
    if "://" in base:
        head, _, rest = base.partition("://")
        netloc, slash, path = rest.partition("/")
        folder, _, name = path.rpartition("/")
        if not slash or not name:
            raise ConfigError("the URL must name a file, e.g. sftp://host/folder/name.csv")
        target = f"{head}://{netloc}/{folder}" if folder else f"{head}://{netloc}"
        if head == "file":
            target = f"file://{netloc}/{folder}"
        name = unquote(name)
    else:
        local = Path(base)
        target, name = str(local.parent), local.name
    return target + (qmark + query if query else ""), name


def put(
    files: Annotated[list[Path], typer.Argument(help="Local files, then the target URL last.")],
    url: UrlArg,
    name: Annotated[
        str | None, typer.Option("--name", help="Remote name (one file only); may hold folders.")
    ] = None,
    conflict: Annotated[
        str, typer.Option("--conflict", help=f"One of {', '.join(CONFLICT_POLICIES)}.")
    ] = "replace",
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check size (and checksum) after upload.")
    ] = True,
    parallel: Annotated[
        int,
        typer.Option("--parallel", "-j", help="Connections in parallel.", min=1, max=MAX_PARALLEL),
    ] = 4,
    as_json: AsJson = False,
    *,
    how: Connecting,
) -> int:
    """Upload files to a target, each published atomically."""
    if conflict not in CONFLICT_POLICIES:
        raise typer.BadParameter(f"must be one of {', '.join(CONFLICT_POLICIES)}")
    if name is not None and len(files) != 1:
        raise typer.BadParameter("--name needs exactly one file", param_hint="--name")
    for file in files:
        if not file.is_file():
            if not file.exists():
                raise FileNotFoundError(2, "no such file", str(file))
            what = "a folder" if file.is_dir() else "not a regular file"
            raise typer.BadParameter(f"{str(file)!r} is {what}: only files are uploaded")
    url, options = how.resolve(url)
    specs = [(f, name or f.name) for f in files]
    policy: Conflict = conflict  # type: ignore[assignment]
    with transfer_bar("uploading", sum(f.stat().st_size for f in files)) as advance:
        results = upload_many(
            url,
            specs,
            parallel=parallel,
            conflict=policy,
            verify=verify,
            progress=advance,
            **options,
        )
    return _report_uploads(results, as_json)


def _report_uploads(results: list[Transfer], as_json: bool) -> int:
    failed = [r for r in results if not r.ok]
    if as_json:
        emit_json(
            [
                {
                    "local": str(r.local),
                    "name": r.name,
                    "ok": r.ok,
                    "remote": dataclasses.asdict(r.info) if r.info else None,
                    "error": str(r.error) if r.error else None,
                }
                for r in results
            ]
        )
    else:
        for result in results:
            if result.info is not None:
                _line(result.info.name, result.info.size)
    for result in failed:
        err.print(f"[red]failed:[/] {shown(result.local)}: {shown(result.error)}", soft_wrap=True)
    if not failed:
        return int(ExitCode.OK)
    if len(failed) == len(results) and failed[0].error is not None:
        return int(exit_code_for(failed[0].error))
    return int(ExitCode.FAILED)


def ls(
    url: UrlArg,
    folder: Annotated[str, typer.Option("--folder", help="Sub-folder to list.")] = "",
    as_json: AsJson = False,
    *,
    how: Connecting,
) -> None:
    """List the files of a target folder (a missing folder exits 4)."""
    url, options = how.resolve(url)
    with open_target(url, **options) as remote:
        entries = remote.list(folder)
    if as_json:
        emit_json([dataclasses.asdict(e) for e in entries])
        return
    now = time.time()
    rows = [
        (
            e.name + ("/" if e.is_dir else ""),
            "" if e.is_dir else human_size(e.size),
            human_age(e.mtime, now) if e.mtime else "",
        )
        for e in entries
    ]
    out.print(table(None, ["Name", "Size", "Age"], rows))


def get(
    url: Annotated[
        str, typer.Argument(help="URL of one remote file, or TARGET/path/name of a configured one.")
    ],
    local: Annotated[
        Path, typer.Argument(help="Local file, or a folder to put it in (-: standard output).")
    ],
    as_json: AsJson = False,
    *,
    how: Connecting,
) -> None:
    """Download one file, written locally under a temporary name and renamed."""
    url, options = how.resolve(url)
    target_url, name = split_file_url(url)
    to_stdout = str(local) == "-"
    if to_stdout:
        if as_json:
            raise typer.BadParameter("the file and --json cannot both go to standard output")
        destination = Path("/dev/stdout")  # as it is shown
    else:
        destination = local / name if local.is_dir() else local
        if not destination.parent.is_dir():  # said before connecting, and of the folder named
            raise FileNotFoundError(2, "no folder to download into", str(destination.parent))
    streaming = to_stdout or is_stream(destination)
    with open_target(target_url, **options) as remote:
        if streaming:
            info = _download_into_stream(remote, name, None if to_stdout else destination)
        else:
            info = remote.download(name, destination)
    if as_json:
        emit_json({"local": str(destination), "remote": dataclasses.asdict(info)})
    else:
        # Into /dev/stdout or a pipe: the line goes beside the bytes, not among them.
        _line(destination, info.size, err=streaming)


def _download_into_stream(remote: Target, name: str, stream: Path | None) -> RemoteInfo:
    """``name`` downloaded (and checked) whole under a scratch name, then written into
    ``stream`` (a name of ``/dev``, a pipe; None: standard output): never part of a file,
    nor a file in its place."""
    with tempfile.TemporaryDirectory(prefix="entrepot-get-") as scratch:
        whole = Path(scratch) / "download"
        info = remote.download(name, whole, durable_write=False)
        with open(whole, "rb") as source:
            if stream is None:
                # The descriptor the process was given, where it stands: opening
                # /dev/stdout by name would start over at offset 0, and truncate what a
                # shell redirected to a file (">>" too) and wrote before us.
                sys.stdout.flush()
                shutil.copyfileobj(source, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                # Appended: a name of /dev may stand for a redirected file too.
                with open(stream, "ab") as out:
                    shutil.copyfileobj(source, out)
    return info


def check(
    url: UrlArg,
    as_json: AsJson = False,
    *,
    how: Connecting,
) -> int:
    """Connect, write, read back, list and delete a probe file; say what works."""
    probe = f"entrepot-check-{secrets.token_hex(4)}.txt"
    payload = f"entrepot check {time.time():.0f}\n".encode()
    url, options = how.resolve(url)
    target = open_target(url, **options)
    if not as_json:
        out.print(f"target: {shown(target.url)}")
    steps: list[tuple[str, Any]] = [
        ("connect", target.connect),
        ("list", target.list),
        ("write", lambda: target.upload_bytes(payload, probe)),
        ("read back", lambda: _same(target, probe, payload)),
        ("delete", lambda: target.delete(probe)),
    ]
    report: list[dict[str, Any]] = []
    failure: EntrepotError | OSError | None = None
    written = False  # whether the probe may be there to delete
    try:
        for label, step in steps:
            written = written or label == "write"
            started = time.perf_counter()
            try:
                step()
            except (EntrepotError, OSError) as exc:
                failure = exc
                report.append({"step": label, "ok": False, "error": str(exc)})
                if not as_json:
                    out.print(f"  [red]✗[/] {label}: {shown(exc)}", soft_wrap=True)
                break
            elapsed = (time.perf_counter() - started) * 1000
            report.append({"step": label, "ok": True, "ms": round(elapsed)})
            if not as_json:
                out.print(f"  [green]✓[/] {label} ({elapsed:.0f} ms)")
    finally:
        # Only once the write was tried: before it there is nothing to delete, and
        # deleting would connect (and log in) again after a failed login, which brings
        # a server that locks an account after N failures there twice as fast.
        if written and failure is not None and not isinstance(failure, ConfigError):
            with contextlib.suppress(EntrepotError, OSError):
                target.delete(probe, missing_ok=True)
        target.close()
    if as_json:
        emit_json({"target": target.url, "ok": failure is None, "steps": report})
    return int(ExitCode.OK) if failure is None else int(exit_code_for(failure))


def _line(name: object, size: int, *, err: bool = False) -> None:
    """``NAME<TAB>SIZE`` on stdout (or stderr: ``err``), a tab for scripts: rich would
    expand it."""
    if not out.quiet:
        typer.echo(f"{printable(str(name))}\t{size}", err=err)


def _same(target: Target, name: str, payload: bytes) -> None:
    if target.read_bytes(name) != payload:
        raise VerificationFailed("the probe file came back different", url=target.url)


def register(app: typer.Typer) -> None:
    app.command("put", help="Upload files to a target URL (atomic publish).")(connecting(put))
    app.command("ls", help="List a target folder.")(connecting(ls))
    app.command("get", help="Download one file from a target URL.")(connecting(get))
    check_help = "Check that a target works: connect, write, read, delete."
    app.command("check", help=check_help)(connecting(check))
