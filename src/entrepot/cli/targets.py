"""``entrepot put|ls|get|check``: move files to and from any target URL.

Secrets never go on the command line: the password comes from
``--password-env NAME`` or, by default, the ``ENTREPOT_PASSWORD`` variable.
Other target options (``known_hosts``, ``ca_file``, ``endpoint_url``, …) are
given as ``-o key=value`` or in the URL's query string.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from entrepot.cli.console import err, human_age, human_size, out, table
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import ConfigError, EntrepotError
from entrepot.targets import Target, Transfer, open_target, upload_many
from entrepot.targets.publish import CONFLICT_POLICIES, Conflict

PASSWORD_VARIABLE = "ENTREPOT_PASSWORD"  # noqa: S105 - a variable name, not a secret

UrlArg = Annotated[str, typer.Argument(help="Target URL, e.g. sftp://user@host:22/folder.")]
OptionList = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Target option key=value (repeatable)."),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        help=f"Read the password from this environment variable (default {PASSWORD_VARIABLE}).",
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds for every network call.")]


def target_options(
    options: list[str] | None, password_env: str | None, timeout: float
) -> dict[str, Any]:
    """Keyword options for open_target from the command line and the environment."""
    result: dict[str, Any] = {"timeout": timeout}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"option {item.split('=')[0]!r} must be given as key=value")
        result[key.strip()] = value
    if password_env:
        result["password_env"] = password_env
    elif os.environ.get(PASSWORD_VARIABLE) and "password" not in result:
        result["password"] = os.environ[PASSWORD_VARIABLE]
    return result


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
    parallel: Annotated[int, typer.Option("--parallel", "-j", help="Connections in parallel.")] = 4,
    option: OptionList = None,
    password_env: PasswordEnv = None,
    timeout: Timeout = 30.0,
) -> int:
    """Upload files to a target, each published atomically."""
    if conflict not in CONFLICT_POLICIES:
        raise typer.BadParameter(f"must be one of {', '.join(CONFLICT_POLICIES)}")
    if name is not None and len(files) != 1:
        raise typer.BadParameter("--name needs exactly one file", param_hint="--name")
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(2, "no such file", str(file))
    options = target_options(option, password_env, timeout)
    specs = [(f, name or f.name) for f in files]
    total = sum(f.stat().st_size for f in files)
    policy: Conflict = conflict  # type: ignore[assignment]
    columns = (
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("uploading", total=total)
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                bar.advance(task, n)

        results = upload_many(
            url,
            specs,
            parallel=parallel,
            conflict=policy,
            verify=verify,
            progress=advance,
            **options,
        )
    return _report_uploads(results)


def _report_uploads(results: list[Transfer]) -> int:
    failed = [r for r in results if not r.ok]
    for result in results:
        if result.info is not None:
            typer.echo(f"{result.info.name}\t{result.info.size}")
    for result in failed:
        err.print(f"[red]failed:[/] {result.local}: {result.error}", soft_wrap=True)
    if not failed:
        return int(ExitCode.OK)
    if len(failed) == len(results) and failed[0].error is not None:
        return int(exit_code_for(failed[0].error))
    return int(ExitCode.FAILED)


def ls(
    url: UrlArg,
    folder: Annotated[str, typer.Option("--folder", help="Sub-folder to list.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
    option: OptionList = None,
    password_env: PasswordEnv = None,
    timeout: Timeout = 30.0,
) -> None:
    """List the files of a target folder."""
    with open_target(url, **target_options(option, password_env, timeout)) as target:
        entries = target.list(folder)
    if as_json:
        rows = [
            {
                "name": e.name,
                "size": e.size,
                "mtime": e.mtime,
                "checksum": e.checksum,
                "is_dir": e.is_dir,
            }
            for e in entries
        ]
        out.print_json(json.dumps(rows))
        return
    now = time.time()
    rows_out = [
        (
            e.name + ("/" if e.is_dir else ""),
            "" if e.is_dir else human_size(e.size),
            human_age(e.mtime, now) if e.mtime else "",
        )
        for e in entries
    ]
    out.print(table(None, ["Name", "Size", "Age"], rows_out))


def get(
    url: Annotated[str, typer.Argument(help="URL of one remote file.")],
    local: Annotated[Path, typer.Argument(help="Local file, or a folder to put it in.")],
    option: OptionList = None,
    password_env: PasswordEnv = None,
    timeout: Timeout = 30.0,
) -> None:
    """Download one file, written locally under a temporary name and renamed."""
    target_url, name = split_file_url(url)
    destination = local / name if local.is_dir() else local
    with open_target(target_url, **target_options(option, password_env, timeout)) as target:
        info = target.download(name, destination)
    typer.echo(f"{destination}\t{info.size}")


def check(
    url: UrlArg,
    option: OptionList = None,
    password_env: PasswordEnv = None,
    timeout: Timeout = 30.0,
) -> int:
    """Connect, write, read back, list and delete a probe file; say what works."""
    probe = f"entrepot-check-{secrets.token_hex(4)}.txt"
    payload = f"entrepot check {time.time():.0f}\n".encode()
    target = open_target(url, **target_options(option, password_env, timeout))
    out.print(f"target: {target.url}")
    steps: list[tuple[str, Any]] = [
        ("connect", target.connect),
        ("list", target.list),
        ("write", lambda: target.upload_bytes(payload, probe)),
        ("read back", lambda: _same(target, probe, payload)),
        ("delete", lambda: target.delete(probe)),
    ]
    failure: EntrepotError | OSError | None = None
    try:
        for label, step in steps:
            started = time.perf_counter()
            try:
                step()
            except (EntrepotError, OSError) as exc:
                out.print(f"  [red]✗[/] {label}: {exc}", soft_wrap=True)
                failure = exc
                break
            out.print(f"  [green]✓[/] {label} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    finally:
        if failure is not None and not isinstance(failure, ConfigError):
            with contextlib.suppress(EntrepotError, OSError):
                target.delete(probe, missing_ok=True)
        target.close()
    return int(ExitCode.OK) if failure is None else int(exit_code_for(failure))


def _same(target: Target, name: str, payload: bytes) -> None:
    from entrepot.errors import VerificationFailed

    if target.read_bytes(name) != payload:
        raise VerificationFailed("the probe file came back different", url=target.url)


def register(app: typer.Typer) -> None:
    app.command("put", help="Upload files to a target URL (atomic publish).")(put)
    app.command("ls", help="List a target folder.")(ls)
    app.command("get", help="Download one file from a target URL.")(get)
    app.command("check", help="Check that a target works: connect, write, read, delete.")(check)
