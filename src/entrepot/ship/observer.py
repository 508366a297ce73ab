"""What a shipping run tells the world as it goes.

The shipper calls an :class:`Observer` at every step.  The default one logs
each step as an event line; the command line adds a progress bar, and the
``zeit.cds`` facade writes the old system's own log lines.
"""

from __future__ import annotations

import logging

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.ship")


class Observer:
    """Receives every step of a run; the base class logs them as events."""

    def connecting(self, url: str) -> None:
        log_event(logger, "ship.connecting", logging.INFO, url=url)

    def connected(self, url: str) -> None:
        log_event(logger, "ship.connected", logging.DEBUG, url=url)

    def locked(self, url: str, lock: str) -> None:
        log_event(logger, "ship.remote_locked", logging.WARNING, url=url, lock=lock)

    def lock_creating(self, lock: str) -> None:
        log_event(logger, "ship.lock_creating", logging.DEBUG, lock=lock)

    def lock_created(self, lock: str) -> None:
        log_event(logger, "ship.lock_created", logging.INFO, lock=lock)

    def stale_lock_removed(self, lock: str, owner: str) -> None:
        log_event(logger, "ship.stale_lock_removed", logging.WARNING, lock=lock, owner=owner)

    def transferring(self, name: str) -> None:
        log_event(logger, "ship.transferring", logging.DEBUG, name=name)

    def transferred(self, name: str, size: int) -> None:
        log_event(logger, "ship.transferred", logging.INFO, name=name, size=size)

    def moved(self, name: str, source: str, destination: str) -> None:
        log_event(logger, "ship.local_moved", logging.DEBUG, name=name, to=destination)

    def removed(self, name: str, where: str) -> None:
        log_event(logger, "ship.removed", logging.DEBUG, name=name, where=where)

    def failed(self, name: str, error: BaseException) -> None:
        log_event(logger, "ship.file_failed", logging.WARNING, name=name, error=error)

    def lock_removing(self, lock: str) -> None:
        log_event(logger, "ship.lock_removing", logging.DEBUG, lock=lock)

    def lock_removed(self, lock: str) -> None:
        log_event(logger, "ship.lock_removed", logging.INFO, lock=lock)

    def lock_remove_failed(self, lock: str, error: BaseException) -> None:
        log_event(logger, "ship.lock_remove_failed", logging.ERROR, lock=lock, error=error)

    def disconnected(self, url: str) -> None:
        log_event(logger, "ship.disconnected", logging.DEBUG, url=url)
