"""Telling systemd how the service is doing (``Type=notify``), without a dependency.

When systemd starts a unit of ``Type=notify`` (or ``notify-reload``) it sets
``NOTIFY_SOCKET`` to a Unix datagram socket; the service sends ``READY=1``
once it works, ``RELOADING=1`` while it re-reads its configuration and
``STOPPING=1`` when it begins to stop.  Without the variable every call does
nothing, so the same code runs under a terminal, a container or systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.service")

__all__ = ["SystemdNotifier"]


class SystemdNotifier:
    """Sends state lines to ``$NOTIFY_SOCKET`` (read once, when made)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
        # A leading "@" names a socket in the abstract namespace.
        self.address = "\0" + address[1:] if address.startswith("@") else address

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; False (and a log line) when it cannot."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log_event(logger, "service.notify_failed", logging.WARNING, error=exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        # systemd's notify-reload wants the time the reload began, on its monotonic clock.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")
