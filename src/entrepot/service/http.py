"""The service's HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics``.

Off unless ``service.listen`` is set.  :func:`start_http` binds the address
in the caller's thread — so a port already taken is a configuration error
(exit 3) at once, not a log line from a background thread — and then serves
a Starlette app with uvicorn in a daemon thread until
:meth:`HttpEndpoint.stop`.

``GET /healthz``
    200 while the process answers; never needs the token (a container's
    health check or a load balancer calls it).
``GET /readyz``
    200 when the ledger answers and a configuration is loaded, else 503;
    either way a JSON body saying what was checked and how each route's
    last run ended (a failing route does not make the service unready: it
    is still there to retry it).
``GET /metrics``
    the Prometheus text format (:mod:`entrepot.service.metrics`).

A token read from ``service.token_file`` (a file private to its owner, as
for passwords) protects everything but ``/healthz``: requests send
``Authorization: Bearer <token>``, compared in constant time; a missing or
wrong token gets the same 401.  ``service.viewer_token_file`` holds a second
token that may read (``/readyz``, ``/metrics``, the dashboard's pages) but
not act.  Without a token file the endpoint may only listen on a loopback
address: anything that others can reach needs one.

Every other path belongs to the web dashboard (:mod:`entrepot.web`), when
the caller hands one in (``dashboard=``, a factory of the ASGI app given the
:class:`Tokens`) and an operator token is set: it checks tokens itself (it
also accepts its login form's session cookie).

Every answer, the dashboard's and the endpoint's own, carries the security
headers (:mod:`entrepot.service.httpguard`).  The client's address and
scheme are the connection's: no ``X-Forwarded-For`` or ``X-Forwarded-Proto``
is trusted, from anywhere.  Connections are bounded in time and number
(:mod:`entrepot.service.httpconn`).
"""

from __future__ import annotations

import errno
import hmac
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from entrepot.errors import ConfigError
from entrepot.logs import log_event
from entrepot.service.config import Config
from entrepot.service.httpconn import ConnectionLimits, bounded_protocol
from entrepot.service.httpguard import ClientGone, SecurityHeaders
from entrepot.service.metrics import PrometheusTelemetry
from entrepot.service.preflight import check_reach, read_token, split_address

__all__ = [
    "GUARDED_PATHS",
    "OPEN_PATHS",
    "ConnectionLimits",
    "DashboardFactory",
    "HttpEndpoint",
    "Tokens",
    "build_app",
    "read_token",
    "start_http",
]

logger = logging.getLogger(__name__)

#: Paths answered without the token.
OPEN_PATHS = frozenset({"/healthz"})
#: Paths of the endpoint itself that need a token (either role's); the rest is the dashboard's.
GUARDED_PATHS = frozenset({"/readyz", "/metrics"})
#: Seconds :func:`start_http` waits for the server to take requests.
STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Tokens:
    """The operator's token (may act) and the viewer's (may read); ``None``: not set."""

    operator: str | None = None
    viewer: str | None = None

    @classmethod
    def of(cls, config: Config) -> Tokens:
        service = config.service
        return cls(
            read_token(service.token_file) if service.token_file else None,
            read_token(service.viewer_token_file) if service.viewer_token_file else None,
        )

    @property
    def required(self) -> bool:
        return self.operator is not None or self.viewer is not None

    def role_of(self, given: str | bytes) -> str | None:
        """``"operator"``, ``"viewer"`` or ``None`` for a token as sent (``given``)."""
        given = given.encode() if isinstance(given, str) else given
        role = None
        # Both compared, in constant time whatever the first differing byte.
        for name, token in (("viewer", self.viewer), ("operator", self.operator)):
            if token is not None and hmac.compare_digest(given, token.encode()):
                role = name
        return role

    def role_of_header(self, header: bytes) -> str | None:
        """The role of an ``Authorization: Bearer <token>`` header's value."""
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"bearer" or not value.strip():
            return None
        return self.role_of(value.strip())


#: Builds the dashboard's ASGI app, given the tokens it must ask for.
DashboardFactory = Callable[[Tokens], ASGIApp]


class _TokenGuard:
    """ASGI middleware: paths need ``Bearer <token>`` (either role) but :data:`OPEN_PATHS`.

    With a dashboard mounted, only :data:`GUARDED_PATHS`: the dashboard checks its own.
    """

    def __init__(self, app: ASGIApp, tokens: Tokens, dashboard: bool) -> None:
        self.app = app
        self.tokens = tokens
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        guarded = path in GUARDED_PATHS if self.dashboard else path not in OPEN_PATHS
        if not self.tokens.required or scope["type"] != "http" or not guarded:
            await self.app(scope, receive, send)
            return
        given = b""
        for key, value in scope["headers"]:
            if key == b"authorization":
                given = value
                break
        if self.tokens.role_of_header(given) is not None:
            await self.app(scope, receive, send)
            return
        refused = PlainTextResponse(
            "a valid token is required\n", 401, headers={"WWW-Authenticate": "Bearer"}
        )
        await refused(scope, receive, send)


def build_app(
    telemetry: PrometheusTelemetry,
    tokens: Tokens | None = None,
    dashboard: DashboardFactory | None = None,
) -> Starlette:
    """The Starlette app answering the three paths (no tokens: none asked), and the dashboard."""

    # Plain functions: Starlette runs them in its thread pool, since reading
    # the ledger and the spools blocks.
    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    def readyz(request: Request) -> Response:
        readiness = telemetry.readiness()
        return JSONResponse(readiness.as_json(), 200 if readiness.ready else 503)

    def metrics(request: Request) -> Response:
        return Response(telemetry.render(), media_type=CONTENT_TYPE_LATEST)

    methods = ["GET", "HEAD"]
    tokens = tokens or Tokens()
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/metrics", metrics, methods=methods),
    ]
    mounted = False
    if dashboard is not None:
        if tokens.operator is None:
            log_event(logger, "http.dashboard_off", logging.WARNING,
                      reason="no service.token_file: the dashboard needs a token")  # fmt: skip
        else:
            routes.append(Mount("/", app=dashboard(tokens)))
            mounted = True
    app = Starlette(routes=routes)
    # Added innermost first: a refusal of the guard gets the headers too.
    app.add_middleware(_TokenGuard, tokens=tokens, dashboard=mounted)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientGone)
    return app


@dataclass
class HttpEndpoint:
    """A running endpoint: where it listens, and how to stop it."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    #: The tokens it asks for, read from their files at the start.
    tokens: Tokens = field(default_factory=Tokens)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (requests in progress get ``timeout`` seconds to finish)."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()
        log_event(logger, "http.stopped", address=self.url)


def start_http(
    config: Config,
    telemetry: PrometheusTelemetry,
    *,
    listen: str | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    dashboard: DashboardFactory | None = None,
    limits: ConnectionLimits | None = None,
) -> HttpEndpoint | None:
    """Serve the endpoint on ``service.listen`` (or ``listen``); ``None`` when neither is set.

    ``limits`` bound how long a client may take to send a request and how
    many may be connected at once.

    Raises :class:`~entrepot.errors.ConfigError` (exit 3) for an address that
    cannot be bound (a port taken, an address not of this host), a token file
    that is missing, empty or open to others, and a non-loopback address
    without a token file.
    """
    address = listen or config.service.listen
    if address is None:
        return None
    if not isinstance(telemetry, PrometheusTelemetry):
        raise TypeError(
            f"the endpoint serves a PrometheusTelemetry, not {type(telemetry).__name__}"
        )
    host, port = split_address(address)
    limits = limits or ConnectionLimits()
    tokens = Tokens.of(config)
    check_reach(address, tokens.required)
    sock = _bind(host, port, address)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(telemetry, tokens, dashboard if config.service.dashboard else None),
            log_config=None,
            access_log=False,
            lifespan="off",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=5,
            # No proxy is configured: a client naming another address or scheme is not believed.
            proxy_headers=False,
            http=bounded_protocol(limits),
            limit_concurrency=limits.connections,
            timeout_keep_alive=limits.keep_alive,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="entrepot-http", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ConfigError(f"the HTTP endpoint on {address} did not start")
        time.sleep(0.01)
    endpoint = HttpEndpoint(host, sock.getsockname()[1], server, thread, sock, tokens)
    log_event(logger, "http.listening", address=endpoint.url,
              access="token" if tokens.required else "open")  # fmt: skip
    return endpoint


def _bind(host: str, port: int, address: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        hint = (
            "another program uses it" if exc.errno == errno.EADDRINUSE else "check service.listen"
        )
        raise ConfigError(f"cannot listen on {address}: {reason} ({hint})") from exc
    sock.set_inheritable(False)
    return sock
