"""One service per state folder: the lock, and ``service.json`` for whoever looks.

:class:`InstanceLock` takes an exclusive ``flock`` on ``<state>/service.lock``
and writes its PID there.  The kernel lets go of the lock when the process
ends, however it ends (``kill -9`` included), so a stale lock never blocks a
restart; a second ``entrepot serve`` on the same state folder is refused,
naming the PID that holds it (:class:`AlreadyRunning`, exit 3).

:class:`StateFile` is ``<state>/service.json``, written (atomically) while
the service runs: its PID, when it started, the configuration file and its
generation, the listen address, and when each route and fetch is next due.
``entrepot status`` and ``entrepot reload`` read it; it is removed on a clean
exit.  A file left by a killed service names a PID that is gone, or one that
does not hold the lock: :func:`read_state` tells.

:func:`refuse_twin` is the same rule for a fleet: a second live process
that speaks for an instance name the ledger already hears from (two state
folders naming the same ``[service] instance``, or both taking the host's
name) is refused at its start (:class:`InstanceNameTaken`, exit 3: a
setting to change, not an outage to wait out).  It would otherwise overwrite
the first one's heartbeat row, and the fleet view would show one healthy
instance for two.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrepot.durable import write_file
from entrepot.errors import ConfigError
from entrepot.service.preflight import check_folder

if TYPE_CHECKING:
    from entrepot.jobs import Ledger
    from entrepot.jobs.fleet import InstanceRecord
    from entrepot.service.fleetconfig import FleetConfig

__all__ = [
    "LOCK_NAME",
    "STATE_NAME",
    "AlreadyRunning",
    "InstanceLock",
    "InstanceNameTaken",
    "StateFile",
    "read_state",
    "refuse_twin",
]

LOCK_NAME = "service.lock"
STATE_NAME = "service.json"


class AlreadyRunning(ConfigError):
    """Another service holds this state folder."""

    def __init__(self, state: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"PID {pid}" if pid else "another process"
        super().__init__(
            f"another entrepot service ({who}) runs on the state folder {state}: "
            "stop it first, or give this one a state folder of its own"
        )


class InstanceNameTaken(ConfigError):
    """Another live service speaks for this instance name on the same ledger."""

    def __init__(self, name: str, other: InstanceRecord, silent_after: float) -> None:
        self.other = other
        wait = round(silent_after * other.every, 1)
        super().__init__(
            f"another entrepot service (PID {other.pid} on {other.host}) runs as the "
            f"instance {name!r} on this ledger: give this one a name of its own "
            "([service] instance, or $ENTREPOT_INSTANCE for a configuration that names "
            f"none), or stop the other first (a name is free once its service has stopped, "
            f"or has been silent for {wait:g} s)"
        )


def refuse_twin(ledger: Ledger, fleet: FleetConfig) -> None:
    """Raise :class:`InstanceNameTaken` when another live process speaks for
    ``ledger``'s instance (see :meth:`~entrepot.jobs.fleet.FleetLog.twin`)."""
    other = ledger.twin(fleet.silent_after)
    if other is not None:
        raise InstanceNameTaken(ledger.instance, other, fleet.silent_after)


class InstanceLock:
    """An exclusive lock on ``<state>/service.lock`` for the life of the process."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        check_folder(self.state, "state folder")
        try:
            self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot make the state folder {self.state}: {exc.strerror or exc}"
            ) from exc
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self.state, holder(self.state)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # The file stays: removing it would let a third process lock a new inode.
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(state: Path) -> int | None:
    """The PID written in the lock file (the holder's, while it is held)."""
    try:
        text = (state / LOCK_NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def is_locked(state: Path) -> bool:
    """True when a live process holds the state folder's lock."""
    try:
        fd = os.open(state / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return False


class StateFile:
    """``<state>/service.json``: rewritten when what it says changes, removed at exit."""

    def __init__(self, state: Path) -> None:
        self.path = state / STATE_NAME
        self._last: str | None = None

    def write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
        if text == self._last:
            return
        # Written aside and renamed, so a reader never sees half of it; not fsynced:
        # it describes a live process and is rewritten often.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        write_file(tmp, text.encode(), durable=False)
        os.replace(tmp, self.path)
        self._last = text

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._last = None


def read_state(state: Path) -> dict[str, Any] | None:
    """What a running service wrote in ``service.json``; ``None`` when none runs."""
    try:
        data = json.loads((state / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not is_locked(state):
        return None  # left by a service that was killed
    return data
