"""A TCP relay that passes a server's answers on slowly: a long download on demand.

Fixture ``throttled`` is a factory: ``throttled(port, rate=200_000)`` starts a
loopback relay (on a port the system chooses) to ``127.0.0.1:port``; what
the client sends goes through at once, what the server answers at about
``rate`` bytes a second.  It returns the relay's port.  The relays stop at
the end of the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

_CHUNK = 8192


class Throttle:
    """One listening socket, two threads per connection; see the module docstring."""

    def __init__(self, port: int, rate: float) -> None:
        self.upstream = port
        self.rate = rate
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            for ends in ((client, server, 0.0), (server, client, self.rate)):
                threading.Thread(target=self._pipe, args=ends, daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, rate: float) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def throttled() -> Iterator[Callable[..., int]]:
    relays: list[Throttle] = []

    def start(port: int, rate: float = 200_000) -> int:
        relay = Throttle(port, rate)
        relays.append(relay)
        return relay.port

    yield start
    for relay in relays:
        relay.close()
