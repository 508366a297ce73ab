"""``entrepot serve``, ``reload``, ``validate`` and ``init``: the service and its configuration.

The configuration file is ``--config PATH``, else ``$ENTREPOT_CONFIG``,
else ``$XDG_CONFIG_HOME/entrepot/entrepot.toml``.

``serve`` runs until SIGTERM or SIGINT and then exits 0 once it has stopped
cleanly (a second Ctrl-C stops waiting for runs in progress: exit 130).
SIGHUP re-reads the configuration.  A configuration with problems, or a
state folder another service holds, exits 3 before anything runs.
``validate`` exits 3 when anything is wrong (``--connect``: or a target
cannot be reached), 4 when there is no file, 0 otherwise; ``init`` refuses
to replace a file (exit 3).  ``reload`` asks the service that runs the file
to re-read it: a file that is not the one the service runs is refused (exit 3).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli.console import emit_json, err, out, shown
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ConfigError
from entrepot.service.loading import (
    ConfigProblems,
    Problem,
    check_config,
    default_config_path,
    load_config,
)
from entrepot.units import parse_duration

if TYPE_CHECKING:
    from entrepot.service.daemon import Daemon
    from entrepot.service.notify import SystemdNotifier

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The configuration file (default: $ENTREPOT_CONFIG, else "
        "$XDG_CONFIG_HOME/entrepot/entrepot.toml).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def config_path(given: Path | None) -> Path:
    """The configuration file named on the command line, in the environment, or the default."""
    return (given or default_config_path(os.environ)).expanduser().absolute()


def _checked(path: Path) -> Any:
    """The configuration at ``path`` with its environment checked; ConfigProblems otherwise."""
    from entrepot.service.checking import all_problems

    config = load_config(path)
    problems = all_problems(config)
    if problems:
        raise ConfigProblems(problems)
    return config


# -- entrepot serve ------------------------------------------------------------------------


def _apply_logging(config: Any) -> None:
    """The service logs its lifecycle at INFO at least, as text or JSON lines."""
    from entrepot.service.logformat import formatter_for

    root = logging.getLogger("entrepot")
    for handler in root.handlers:
        if getattr(handler, "_entrepot_cli", False):
            handler.setFormatter(formatter_for(config.service.log_format))
    if not root.isEnabledFor(logging.INFO) and root.isEnabledFor(logging.WARNING):
        # The service's lifecycle and the dashboard's logins and actions.
        for name in ("entrepot.service", "entrepot.web"):
            logging.getLogger(name).setLevel(logging.INFO)


@contextmanager
def _signals(daemon: Any) -> Iterator[None]:
    """SIGTERM and SIGINT stop the daemon, SIGHUP reloads it; restored afterwards."""

    def stop(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and daemon.stopping.is_set():
            raise KeyboardInterrupt  # asked twice: stop waiting for runs in progress
        daemon.request_stop(signal.Signals(signum).name)

    def reload(signum: int, frame: FrameType | None) -> None:
        daemon.request_reload()

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
        signal.SIGINT: signal.signal(signal.SIGINT, stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, reload),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(
    config: ConfigOption = None,
    hints: Annotated[
        bool,
        typer.Option(
            "--hints/--no-hints",
            help="Wake on file-system notifications (else periodic scans only).",
        ),
    ] = True,
) -> int:
    """Run every route, fetch and chore of the configuration until stopped."""
    from entrepot.service.notify import SystemdNotifier

    daemon = make_daemon(config_path(config), notifier=SystemdNotifier(os.environ), hints=hints)
    with _signals(daemon):
        return daemon.run()


def make_daemon(
    path: Path, *, notifier: SystemdNotifier, hints: bool = True, service_logs: bool = True
) -> Daemon:
    """The daemon of ``serve`` over the checked configuration at ``path``, with its dashboard.

    ``service_logs``: the service's lifecycle is logged at INFO (as ``serve`` does).
    """
    from entrepot.service import daemon as service_daemon

    loaded = _checked(path)
    if service_logs:
        _apply_logging(loaded)
    daemon = service_daemon.Daemon(
        loaded,
        reread=lambda: _checked(path),
        notifier=notifier,
        on_config=_apply_logging if service_logs else None,
        hints=hints,
    )
    if loaded.service.listen is not None and loaded.service.dashboard:
        from entrepot.web import dashboard_for

        daemon.companions.dashboard = dashboard_for(daemon)
    return daemon


# -- entrepot reload -----------------------------------------------------------------------


def reload(
    config: ConfigOption = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", parser=parse_duration, help="How long to wait for the service's answer (10s)."
        ),
    ] = 10.0,
) -> int:
    """Ask the running service to re-read its configuration (SIGHUP)."""
    from entrepot.service.instance import read_state

    path = config_path(config)
    loaded, problems = check_config(path)
    if loaded is None:
        _print_problems(problems)
        return int(ExitCode.CONFIG)
    state = read_state(loaded.service.state)
    if state is None:
        err.print(f"no service runs on the state folder {shown(loaded.service.state)}")
        err.print("(a service's state folder cannot change by a reload: one that runs with "
                  "another state folder must be restarted to use this one)",
                  soft_wrap=True)  # fmt: skip
        return int(ExitCode.NOT_FOUND)
    running = state.get("config")
    if running and not _same_file(Path(running), path):
        err.print(
            f"the service on the state folder {shown(loaded.service.state)} runs "
            f"{shown(running)}, not {shown(path)}: a reload re-reads the service's own file "
            "(edit that one, or restart the service with this one)",
            soft_wrap=True,
        )
        return int(ExitCode.CONFIG)
    before = state.get("last_reload")
    os.kill(int(state["pid"]), signal.SIGHUP)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read_state(loaded.service.state) or {}
        answer = now.get("last_reload")
        if answer and answer != before:
            if answer.get("ok"):
                out.print(f"reloaded: configuration {now.get('generation')} in use")
                return int(ExitCode.OK)
            for problem in answer.get("problems", []):
                err.print(f"  {shown(problem)}", soft_wrap=True)
            err.print(f"refused: configuration {now.get('generation')} stays in use")
            return int(ExitCode.CONFIG)
    err.print(f"asked PID {state['pid']} to reload; no answer within {wait:g} s (see its log)")
    return int(ExitCode.TEMPORARY)


def _same_file(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return os.path.realpath(one) == os.path.realpath(other)


# -- entrepot validate ---------------------------------------------------------------------


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "where": problem.where,
        "message": problem.message,
        "line": problem.line,
        "hint": problem.hint,
        "file": str(problem.file) if problem.file else None,
        "text": str(problem),
    }


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        err.print(f"[red]✗[/] {shown(problem)}", soft_wrap=True)
    err.print(f"{len(problems)} problem(s)")


def validate(
    path: Annotated[Path | None, typer.Argument(help="The file to check.")] = None,
    config: ConfigOption = None,
    connect: Annotated[
        bool, typer.Option("--connect", help="Also connect to each target and list its folder.")
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Check a configuration file: every problem at once, with its line and a hint."""
    from entrepot.service.checking import all_problems, connect_targets

    file = config_path(path or config)
    loaded, problems = check_config(file)
    if loaded is not None:
        problems += all_problems(loaded)
    checks = connect_targets(loaded) if loaded is not None and connect and not problems else []
    ok = not problems and all(check.ok for check in checks)
    if as_json:
        emit_json(
            {
                "file": str(file),
                "ok": ok,
                "problems": [_problem_json(problem) for problem in problems],
                "targets": [check.__dict__ for check in checks],
            }
        )
    else:
        if problems:
            _print_problems(problems)
        for check in checks:
            if check.ok:
                out.print(f"[green]✓[/] {shown(check.name)} {shown(check.url)} ({check.ms:.0f} ms)")
            else:
                out.print(f"[red]✗[/] {shown(check.name)} {shown(check.url)}: {shown(check.error)}")
        if ok and loaded is not None:
            out.print(
                f"{shown(file)}: ok — {len(loaded.targets)} targets, {len(loaded.spools)} spools, "
                f"{len(loaded.routes)} routes, {len(loaded.fetches)} fetches"
            )
    if loaded is None and not file.exists():
        return int(ExitCode.NOT_FOUND)
    return int(ExitCode.OK if ok else ExitCode.CONFIG)


# -- entrepot init -------------------------------------------------------------------------


def init(
    path: Annotated[Path | None, typer.Argument(help="Where to write it.")] = None,
    config: ConfigOption = None,
) -> int:
    """Write a commented starter configuration that runs as it is."""
    from entrepot.service.starter import write_starter

    file = config_path(path or config)
    try:
        made = write_starter(file)
    except FileExistsError as exc:
        # Made by another process since write_starter looked: name what is there now.
        raise ConfigError(f"{exc.filename or file} exists: not overwritten") from exc
    out.print(f"wrote {shown(made[0])}")
    for folder in made[1:]:
        out.print(f"made  {shown(folder)}")
    where = "" if path is None and config is None else f" --config {shown(file)}"
    out.print(f"next: entrepot validate{where} && entrepot serve{where}")
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("reload")(reload)
    app.command("validate")(validate)
    app.command("init")(init)
