"""The endpoint's connections: deadlines on what a client sends, a cap on how many.

uvicorn closes a connection left idle *after* an answer (its keep-alive
timeout), but by itself never one that does not finish its request: a
client may open connections and send nothing, half a header, or a body
shorter than its ``Content-Length``, and each holds a file descriptor —
which the service also needs for its spools and its database.  So, on top
of uvicorn's HTTP/1.1 protocol (h11):

* a request's **headers** must be complete within
  :attr:`ConnectionLimits.headers` seconds of the connection being opened
  (or of the previous answer), however slowly they trickle in;
* while a **body** is read, the client may not stay silent longer than
  :attr:`ConnectionLimits.body_idle` seconds (a large upload on a slow link
  is fine as long as bytes keep coming; a handler reading slowly does not
  count against the client);
* at most :attr:`ConnectionLimits.connections` connections are open at
  once: a request that comes while that many are open is answered 503
  (uvicorn's ``limit_concurrency``), a connection past them is closed at once.

A connection that misses a deadline is closed (``http.timed_out``); a
handler still reading its body sees the client gone
(:class:`~entrepot.service.httpguard.ClientGone`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from entrepot.logs import log_event

__all__ = ["ConnectionLimits", "bounded_protocol"]

logger = logging.getLogger("entrepot.service.http")


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take to send its request, and how many may be connected."""

    #: Seconds from a connection's start (or its previous answer) to a request's complete headers.
    headers: float = 10.0
    #: Seconds a client may stay silent while its request's body is read.
    body_idle: float = 30.0
    #: Connections open at once.
    connections: int = 100
    #: Seconds an idle connection is kept after an answer (uvicorn's keep-alive timeout).
    keep_alive: int = 5


def bounded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol class, with ``limits`` on every connection it serves."""
    return type("BoundedH11Protocol", (_Bounded,), {"limits": limits})


class _Bounded(H11Protocol):
    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    #: Whether the cap on connections was reached and said so (said once until it clears).
    full: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's own lines (a malformed request, a failed handler) in the service's log.
        self.logger = logger
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cls = type(self)
        if len(self.connections) > self.limits.connections:
            if not cls.full:
                cls.full = True
                log_event(logger, "http.connections_full", logging.WARNING,
                          limit=self.limits.connections)  # fmt: skip
            transport.close()
            return
        cls.full = False
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Keep the deadline that fits what the connection awaits from the client."""
        if self.transport.is_closing():
            self._stop_watching()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # Set once per request: headers trickled a byte at a time do not push it back.
            if self._waiting != "headers":
                self._arm("headers", self.limits.headers)
        elif state is h11.SEND_BODY:
            self._arm("body", self.limits.body_idle)
        else:
            self._stop_watching()

    def _arm(self, waiting: str, seconds: float) -> None:
        self._stop_watching()
        self._waiting = waiting
        self._deadline = self.loop.call_later(seconds, self._expired, waiting)

    def _stop_watching(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._waiting = None, None

    def _expired(self, waiting: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if waiting == "body" and (self.flow.read_paused or self._client_waits()):
            # The handler has not taken what came yet, or not asked for the body (a client
            # sending "Expect: 100-continue" waits for that): the client is not the one late.
            self._arm("body", self.limits.body_idle)
            return
        client = self.client[0] if self.client else "unknown"
        log_event(logger, "http.timed_out", client=client, waiting=waiting)
        self._waiting = None
        self.transport.close()

    def _client_waits(self) -> bool:
        return self.cycle is not None and self.cycle.waiting_for_100_continue
