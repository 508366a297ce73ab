"""Remote lock files: the drop-folder protocol of the old export system.

While a run writes into a remote folder it keeps a ``write`` file there (a
``read`` file while it fetches); the other side does the same.  A run that
finds either lock leaves the folder alone and reports "locked" — a reason to
try again later, not an error.

Our lock files hold a small JSON document naming the host, process and run
that made them.  A lock left behind by one of our own runs that died (same
host, process gone) is stale and is taken over; a lock we cannot read, or one
from anyone else, is always respected.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass

from entrepot.errors import RemoteLocked, TargetError
from entrepot.processes import process_gone
from entrepot.ship.observer import Observer
from entrepot.targets import Target

_OWNER = "entrepot"


@dataclass(frozen=True)
class LockOwner:
    """Who made a lock file."""

    host: str
    pid: int
    token: str
    created: float

    def encode(self) -> bytes:
        document = {"owner": _OWNER, **self.__dict__}
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> LockOwner | None:
        """The owner of one of our lock files, or None for anyone else's."""
        try:
            document = json.loads(data)
            if document.get("owner") != _OWNER:
                return None
            return cls(
                str(document["host"]),
                int(document["pid"]),
                str(document["token"]),
                float(document["created"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


class RemoteLock:
    """One lock file held in a remote folder for the duration of a run."""

    def __init__(self, target: Target, name: str, observer: Observer, token: str) -> None:
        self.target = target
        self.name = name
        self.observer = observer
        self.owner = LockOwner(socket.gethostname(), os.getpid(), token, time.time())
        self.held = False

    def acquire(self, present: set[str], respected: tuple[str, ...]) -> None:
        """Create the lock; raise :class:`RemoteLocked` if any ``respected`` lock is ``present``.

        ``present`` is the set of names in the remote folder, from a listing
        made just before.
        """
        for lock in respected:
            if lock in present and not self._ours_or_stale(lock):
                self.observer.locked(self.target.url, lock)
                raise RemoteLocked(
                    f"the remote folder is locked by a '{lock}' file",
                    url=self.target.url,
                    host=self.target.host,
                    port=self.target.port,
                    path=lock,
                )
        self.observer.lock_creating(self.name)
        self.target.upload_bytes(self.owner.encode(), self.name, conflict="replace", verify=True)
        self.held = True
        self.observer.lock_created(self.name)

    def release(self) -> None:
        """Remove the lock; a failure is reported and raised (the lock may remain)."""
        if not self.held:
            return
        self.observer.lock_removing(self.name)
        try:
            self.target.delete(self.name, missing_ok=True)
        except TargetError as exc:
            self.observer.lock_remove_failed(self.name, exc)
            raise
        self.held = False
        self.observer.lock_removed(self.name)

    def _ours_or_stale(self, lock: str) -> bool:
        try:
            owner = LockOwner.decode(self.target.read_bytes(lock))
        except TargetError:
            return False
        if owner is None:
            return False
        if owner.token == self.owner.token:
            return True  # our own lock, from an earlier try of this run
        if owner.host == self.owner.host and process_gone(owner.pid):
            self.observer.stale_lock_removed(lock, str(owner))
            self.target.delete(lock, missing_ok=True)
            return True
        return False
