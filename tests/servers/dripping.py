"""A peer that never finishes a sentence: it accepts, then drips one byte at a time.

Fixture ``dripping_peer`` is a factory: ``dripping_peer(b"220 ", every=0.3)``
starts a loopback server (on a port the system chooses) that, for each
connection, sends the given opening bytes, then one more byte every
``every`` seconds, forever — always inside any per-read timeout, never
completing a line, a banner or a reply.  It returns the port.  The servers
stop at the end of the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest


class DrippingPeer:
    """One listening socket and a thread per connection; see the module docstring."""

    def __init__(self, opening: bytes, every: float) -> None:
        self.opening = opening
        self.every = every
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.sendall(self.opening)
            while not self._stop.wait(self.every):
                conn.sendall(b"x")

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def dripping_peer() -> Iterator[Callable[..., int]]:
    peers: list[DrippingPeer] = []

    def start(opening: bytes = b"", every: float = 0.3) -> int:
        peer = DrippingPeer(opening, every)
        peers.append(peer)
        return peer.port

    yield start
    for peer in peers:
        peer.close()
