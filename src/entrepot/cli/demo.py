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

import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from entrepot.cli.console import err, out, shown
from entrepot.cli.demo_config import DemoSetup, write_demo
from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import ConfigError
from entrepot.interrupts import Terminated


class _Serving:
    """The daemon's main loop in a thread of its own; the main thread feeds and waits."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.error: BaseException | None = None
        self.done = threading.Event()
        # A daemon thread: a second Ctrl-C during the stop ends the process at once.
        self.thread = threading.Thread(target=self._run, name="entrepot-demo-service", daemon=True)

    def _run(self) -> None:
        try:
            self.daemon.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> None:
        """Until the service has stopped.  (An Event, not ``Thread.join``: a Ctrl-C that
        interrupts a join can leave the thread looking finished while it still runs.)"""
        while not self.done.wait(1.0):
            pass

    def start(self, timeout: float = 60.0) -> str:
        """Start the service; its dashboard's URL once it is READY."""
        ready = self.daemon.notifier.ready_event
        self.thread.start()
        while not ready.wait(0.1):
            if self.done.is_set():
                if isinstance(self.error, Exception):
                    raise self.error
                raise ConfigError("the service stopped before it was ready")
            timeout -= 0.1
            if timeout <= 0:
                self.stop("not ready")
                raise ConfigError("the service did not get ready in time")
        return str(self.daemon.companions.address)

    def stop(self, reason: str) -> None:
        """Ask the service to stop and wait while it stops cleanly (runs finish, archives seal)."""
        self.daemon.request_stop(reason)
        self.wait()


def _daemon(config_path: Path) -> Any:
    """The daemon ``entrepot serve`` would run, which tells the demo when it is READY."""
    from entrepot.cli.service import make_daemon
    from entrepot.service.notify import SystemdNotifier

    class ReadyFlag(SystemdNotifier):
        """Sets ``ready_event`` at READY (and tells systemd, under a unit)."""

        def __init__(self) -> None:
            super().__init__()
            self.ready_event = threading.Event()

        def ready(self, status: str = "") -> bool:
            self.ready_event.set()
            return super().ready(status)

    return make_daemon(config_path, notifier=ReadyFlag(), service_logs=False)


def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its configuration and folders.")
    ] = Path(".entrepot-demo"),
    files: Annotated[int, typer.Option("--files", help="CSV exports to produce.", min=1)] = 25,
    events: Annotated[int, typer.Option("--events", help="Events to archive.", min=0)] = 500,
    port: Annotated[
        int, typer.Option("--port", help="The dashboard's port (0: any free one).", min=0)
    ] = 0,
    once: Annotated[
        bool,
        typer.Option("--once", help="Check the outcome through the dashboard's API, then stop."),
    ] = False,
    fresh: Annotated[bool, typer.Option("--fresh/--keep", help="Start from scratch.")] = True,
) -> int:
    """Run the service on a starter configuration with its dashboard, and feed it."""
    if fresh and folder.exists():
        shutil.rmtree(folder)
    setup = write_demo(folder, port=port, per_archive=max(1, -(-events // 3)))
    out.print(f"[bold]1.[/] wrote the configuration {shown(setup.config)}")
    serving = _Serving(_daemon(setup.config))
    with _ctrl_c_raises():
        return _run(serving, setup, files=files, events=events, once=once)


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


def _run(serving: _Serving, setup: DemoSetup, *, files: int, events: int, once: bool) -> int:
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
