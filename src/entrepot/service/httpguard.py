"""What wraps every answer of the HTTP endpoint: security headers, clients gone mid-request.

:class:`SecurityHeaders` adds to every answer — ``/healthz``, ``/readyz``,
``/metrics``, the dashboard's pages, files, redirects and errors, a 401 or
404 of the endpoint itself — a Content-Security-Policy that allows this
site's own files only (no inline script or style, no frames, forms posting
only here), ``X-Content-Type-Options: nosniff``, frame denial, no referrer
sent to other sites (``same-origin``: with ``no-referrer`` a browser sends
``Origin: null`` on its form posts, which the dashboard's origin check must
refuse), and ``Cache-Control: no-store`` on everything but the dashboard's
static files.

:class:`ClientGone` turns a client that hangs up while its request is read
(a login or an upload cut off, a body shorter than its ``Content-Length``
given up on) into one ``http.client_gone`` line: nobody is left to answer,
and nothing went wrong on this side.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrepot.logs import log_event

__all__ = ["CSP", "ClientGone", "SecurityHeaders"]

logger = logging.getLogger("entrepot.service.http")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: Paths whose answers may be cached: the package's own files, the same in every release.
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """ASGI middleware adding the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ClientGone:
    """ASGI middleware: a client that disconnected while its body was read is logged, not raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            client = scope.get("client")
            log_event(logger, "http.client_gone", client=client[0] if client else "unknown",
                      method=scope.get("method"), path=scope.get("path"))  # fmt: skip
