"""The demo's service: the daemon ``entrepot serve`` runs, in a thread of this process.

:class:`DemoService` builds the daemon exactly as ``serve`` does
(:func:`entrepot.cli.service.make_daemon`: the checked configuration, its
reload, the dashboard), runs its main loop in a thread of its own, and
tells the caller when it is READY and at which URL its dashboard answers.
The main thread stays free to feed the service and to take Ctrl-C.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from entrepot.errors import ConfigError
from entrepot.service.notify import SystemdNotifier

if TYPE_CHECKING:
    from entrepot.service.daemon import Daemon

__all__ = ["DemoService"]


class _ReadyFlag(SystemdNotifier):
    """Sets ``ready_event`` at READY (and tells systemd too, under a unit)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready_event = threading.Event()

    def ready(self, status: str = "") -> bool:
        self.ready_event.set()
        return super().ready(status)


class DemoService:
    """``entrepot serve`` over the configuration at ``config_path``, in a thread."""

    def __init__(self, config_path: Path) -> None:
        from entrepot.cli.service import make_daemon

        self._ready = _ReadyFlag()
        self.daemon: Daemon = make_daemon(config_path, notifier=self._ready, service_logs=False)
        self.error: BaseException | None = None
        self._done = threading.Event()
        # A daemon thread: a second Ctrl-C during the stop ends the process at once.
        self._thread = threading.Thread(target=self._run, name="demo-service", daemon=True)

    def _run(self) -> None:
        try:
            self.daemon.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
        finally:
            self._done.set()

    def start(self, timeout: float = 60.0) -> str:
        """Start the service; its dashboard's URL once it is READY."""
        self._thread.start()
        waited = 0.0
        while not self._ready.ready_event.wait(0.1):
            if self._done.is_set():
                if isinstance(self.error, Exception):
                    raise self.error
                raise ConfigError("the service stopped before it was ready")
            waited += 0.1
            if waited >= timeout:
                self.stop("not ready")
                raise ConfigError(f"the service was not ready after {timeout:g} s")
        return str(self.daemon.companions.address)

    def wait(self) -> None:
        """Until the service has stopped.  (An Event, not ``Thread.join``: a Ctrl-C that
        interrupts a join can leave the thread looking finished while it still runs.)"""
        while not self._done.wait(1.0):
            pass

    def stop(self, reason: str) -> None:
        """Ask the service to stop; wait while it stops cleanly (runs end, archives seal)."""
        self.daemon.request_stop(reason)
        self.wait()
