"""``entrepot put|ls|get|check``: move files to and from any target URL.

Target options are ``-o key=value`` or the URL's query string.  Where the
password comes from is one rule for every command that opens a target
(:func:`target_options`; ``ship`` and ``fetch`` follow it too):

1. ``--password-env NAME`` or ``--password-file PATH`` (not both; the file
   must be private to its owner);
2. otherwise a password written in the URL (masked wherever it is shown;
   discouraged — a command line is seen by others);
3. otherwise the ``ENTREPOT_PASSWORD`` environment variable, if set, passed
   on *by reference* (``password_env=ENTREPOT_PASSWORD``), so that a job
   kept for a later retry reads it again then.

A secret is never accepted as ``-o`` (``password``, ``secret_key``,
``passphrase``, ``session_token``): it would stay in shell histories.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
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

from entrepot.cli import names
from entrepot.cli.console import emit_json, err, human_age, human_size, out, shown, table
from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.cli.names import ConfigOption
from entrepot.errors import ConfigError, EntrepotError, VerificationFailed
from entrepot.redact import printable
from entrepot.targets import (
    CONFLICT_POLICIES,
    Conflict,
    Target,
    Transfer,
    open_target,
    option_pairs,
    parse_url,
    upload_many,
)
from entrepot.targets.url import SECRET_OPTIONS

_R = TypeVar("_R")
PASSWORD_VARIABLE = "ENTREPOT_PASSWORD"  # noqa: S105 - a variable name, not a secret

UrlArg = Annotated[
    str,
    typer.Argument(
        help="Target URL, e.g. sftp://user@host:22/folder, or a configured target's name."
    ),
]
OptionList = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Target option key=value (repeatable; no secrets)."),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        help=f"Read the password from this environment variable (default {PASSWORD_VARIABLE}).",
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from this file (mode 600)."),
]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds a network call may go without progress (30)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def target_options(
    url: str,
    pairs: list[str] | None,
    password_env: str | None = None,
    password_file: Path | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Keyword options for ``open_target(url, ...)`` from a command line; see the module."""
    return with_default_password(url, given_options(pairs, password_env, password_file, timeout))


def given_options(
    pairs: list[str] | None,
    password_env: str | None = None,
    password_file: Path | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """The target options written on the command line (rules 1 and 2 of the module)."""
    options: dict[str, Any] = dict(option_pairs(pairs or []))
    if password_env and password_file:
        raise ConfigError("give --password-env or --password-file, not both")
    if password_env:
        options["password_env"] = password_env
    elif password_file:
        options["password_file"] = str(password_file)
    if timeout is not None:
        options["timeout"] = timeout
    return options


def with_default_password(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``$ENTREPOT_PASSWORD`` as the password if nothing else names one."""
    if PASSWORD_VARIABLE in os.environ and not _names_a_password(url, options):
        return {**options, "password_env": PASSWORD_VARIABLE}
    return options


def _names_a_password(url: str, options: dict[str, Any]) -> bool:
    parsed = parse_url(url)
    given = set(parsed.options()) | set(options)
    return bool(parsed.password) or bool(
        given & (SECRET_OPTIONS | {"password_env", "password_file"})
    )


@dataclass(frozen=True)
class Connecting:
    """How a command reaches a target: ``-o`` options, the password source, the timeout."""

    pairs: list[str] | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float | None = None
    config: Path | None = None

    def options(self, url: str) -> dict[str, Any]:
        """Keyword options for ``open_target(url, ...)`` (see :func:`target_options`)."""
        return target_options(url, self.pairs, self.password_env, self.password_file, self.timeout)

    def resolve(self, argument: str) -> tuple[str, dict[str, Any]]:
        """The URL and options of ``argument``: a URL, a path, or a configured target's name."""
        if not names.is_name(argument):
            return argument, self.options(argument)
        given = given_options(self.pairs, self.password_env, self.password_file, self.timeout)
        named = names.target(argument, self.config, given)
        return named.url, with_default_password(named.url, named.options)


_CONNECTING = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
    for name, kind in (
        ("option", OptionList),
        ("password_env", PasswordEnv),
        ("password_file", PasswordFile),
        ("timeout", Timeout),
        ("config", ConfigOption),
    )
]


def connecting(command: Callable[..., _R]) -> Callable[..., _R]:
    """Give a command the options every target command takes, under the one rule.

    The command declares a keyword-only ``how: Connecting`` parameter; its
    users see ``-o``, ``--password-env``, ``--password-file``,
    ``--timeout`` and ``--config`` instead, and ``how.resolve(argument)``
    turns the URL or configured target name and those options into a URL
    and target options.
    """
    signature = inspect.signature(command, eval_str=True)
    kept = [param for name, param in signature.parameters.items() if name != "how"]

    @functools.wraps(command)
    def run(**given: Any) -> _R:
        how = Connecting(*(given.pop(param.name) for param in _CONNECTING))
        return command(how=how, **given)

    run.__signature__ = signature.replace(parameters=[*kept, *_CONNECTING])  # type: ignore[attr-defined]
    return run


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
            raise FileNotFoundError(2, "no such file", str(file))
    url, options = how.resolve(url)
    specs = [(f, name or f.name) for f in files]
    policy: Conflict = conflict  # type: ignore[assignment]
    columns = (
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("uploading", total=sum(f.stat().st_size for f in files))
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
    local: Annotated[Path, typer.Argument(help="Local file, or a folder to put it in.")],
    as_json: AsJson = False,
    *,
    how: Connecting,
) -> None:
    """Download one file, written locally under a temporary name and renamed."""
    url, options = how.resolve(url)
    target_url, name = split_file_url(url)
    destination = local / name if local.is_dir() else local
    with open_target(target_url, **options) as remote:
        info = remote.download(name, destination)
    if as_json:
        emit_json({"local": str(destination), "remote": dataclasses.asdict(info)})
    else:
        _line(destination, info.size)


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
    try:
        for label, step in steps:
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
        if failure is not None and not isinstance(failure, ConfigError):
            with contextlib.suppress(EntrepotError, OSError):
                target.delete(probe, missing_ok=True)
        target.close()
    if as_json:
        emit_json({"target": target.url, "ok": failure is None, "steps": report})
    return int(ExitCode.OK) if failure is None else int(exit_code_for(failure))


def _line(name: object, size: int) -> None:
    """``NAME<TAB>SIZE`` on stdout (a tab, for scripts: rich would expand it)."""
    if not out.quiet:
        typer.echo(f"{printable(str(name))}\t{size}")


def _same(target: Target, name: str, payload: bytes) -> None:
    if target.read_bytes(name) != payload:
        raise VerificationFailed("the probe file came back different", url=target.url)


def register(app: typer.Typer) -> None:
    app.command("put", help="Upload files to a target URL (atomic publish).")(connecting(put))
    app.command("ls", help="List a target folder.")(connecting(ls))
    app.command("get", help="Download one file from a target URL.")(connecting(get))
    check_help = "Check that a target works: connect, write, read, delete."
    app.command("check", help=check_help)(connecting(check))
