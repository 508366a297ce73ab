"""``entrepot demo``: the service's first run, on embedded defaults, in one local folder.

It writes a starter configuration in the demo folder (:mod:`.demo_config`),
starts the service in this process with its dashboard on ``127.0.0.1``,
feeds it CSV exports, events and a CSV upload with bad rows
(:mod:`.demo_flow`), and prints the dashboard's address and a login token
made for this run.  Then it keeps serving until Ctrl-C (a clean stop, exit
130; SIGTERM: 143).  With ``--once`` it waits for the outcome instead,
checks it through the dashboard's JSON API (:mod:`.demo_check`) and stops:
exit 0 when every file was delivered, the import counted its good and bad
rows and nothing waits in the backlog; 1 with what differs otherwise.
Nothing outside the demo folder is touched and no server is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from entrepot.cli.console import err, out, shown
from entrepot.cli.demo_config import DEMO_STATE, DemoSetup, is_demo_folder, write_demo
from entrepot.cli.demo_service import DemoService
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ConfigError
from entrepot.interrupts import Terminated


def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its configuration and folders.")
    ] = Path(".entrepot-demo"),
    files: Annotated[int, typer.Option("--files", help="CSV exports to produce.", min=1)] = 25,
    events: Annotated[int, typer.Option("--events", help="Events to archive.", min=0)] = 500,
    port: Annotated[
        int,
        typer.Option("--port", help="The dashboard's port (0: any free one).", min=0, max=65535),
    ] = 0,
    once: Annotated[
        bool,
        typer.Option("--once", help="Check the outcome through the dashboard's API, then stop."),
    ] = False,
    fresh: Annotated[bool, typer.Option("--fresh/--keep", help="Start from scratch.")] = True,
) -> int:
    """Run the service on a starter configuration with its dashboard, and feed it."""
    if os.path.lexists(folder):
        if not folder.is_dir() or folder.is_symlink() or not is_demo_folder(folder):
            # --dir . or --dir ~ by a slip: never emptied, nor written into.
            raise ConfigError(
                f"{folder} is not a demo's folder (no configuration written by "
                "`entrepot demo` in it): left as it is — name another --dir"
            )
        _not_running(folder)
        if fresh:
            shutil.rmtree(folder)
    setup = write_demo(folder, port=port, per_archive=max(1, -(-events // 3)))
    out.print(f"[bold]1.[/] wrote the configuration {shown(setup.config)}")
    serving = DemoService(setup.config)
    with _ctrl_c_raises():
        return _run(serving, setup, files=files, events=events, once=once)


def _not_running(folder: Path) -> None:
    """Refuse a demo folder whose service still runs (an earlier ``entrepot demo``, or
    ``entrepot serve`` on its configuration), before anything there is removed or
    written: its ledger, spool and tokens are in use (AlreadyRunning, exit 3)."""
    from entrepot.service.instance import AlreadyRunning, holder, is_locked

    state = folder.absolute() / DEMO_STATE
    if is_locked(state):
        raise AlreadyRunning(state, holder(state))


@contextmanager
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, also where SIGINT came ignored (a background job)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run(serving: DemoService, setup: DemoSetup, *, files: int, events: int, once: bool) -> int:
    from entrepot.cli.demo_check import DashboardApi, wait_for_outcome
    from entrepot.cli.demo_flow import feed

    url = serving.start()
    stop_reason = "demo done"
    try:
        out.print(f"[bold]2.[/] the service runs; its dashboard: [cyan]{shown(url)}/[/]")
        fed = feed(serving.daemon.config, files=files, events=events)
        out.print(
            f"[bold]3.[/] fed it {len(fed.exports)} CSV exports and {len(fed.archives)} sealed "
            f"event archives (into {shown(setup.folder / 'outbox')}), and "
            f"{shown(fed.upload)} with bad rows (into {shown(setup.uploads)})"
        )
        api = DashboardApi(url, setup.operator_token)
        if once:
            problems = wait_for_outcome(api, fed)
            for problem in problems:
                err.print(f"[red]✗[/] {shown(problem)}", soft_wrap=True)
            if not problems:
                out.print(f"[bold]4.[/] checked through {shown(url)}/api/: all as expected")
            return int(ExitCode.OK if not problems else ExitCode.FAILED)
        out.print(
            f"Log in at [cyan]{shown(url)}/login[/] with the operator's token "
            f"(made for this run): [bold]{shown(setup.operator_token)}[/]\n"
            f"(read-only: {shown(setup.viewer_token)}).  Ctrl-C stops the service."
        )
        serving.wait()
        return int(ExitCode.OK)
    except KeyboardInterrupt as exc:
        # Ctrl-C (or SIGTERM) lands here in the main thread: the service stops
        # cleanly before the command exits 130 (or 143).
        stop_reason = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        raise
    finally:
        serving.stop(stop_reason)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
