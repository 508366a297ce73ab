"""What every response carries and what every form post must prove.

:class:`SecurityHeaders` (from :mod:`entrepot.service.httpguard`, where the
HTTP endpoint puts it around every answer, the dashboard's included) adds a
Content-Security-Policy that allows this site's own files only (no inline
script or style, no frames, forms posting only here),
``X-Content-Type-Options: nosniff``, frame denial, no referrer sent to other
sites (``same-origin``: with ``no-referrer`` a browser sends
``Origin: null`` on its form posts, which the origin check below must
refuse), and ``Cache-Control: no-store`` on everything but static files.

:class:`CsrfCheck` refuses (403) any state-changing request made with a
session cookie unless it carries the session's CSRF token: in the
``X-CSRF-Token`` header, or as the form field ``csrf`` — for a multipart
form (an upload), as its **first** field, so the token is checked before
a byte of the file is read.  Requests with a Bearer token carry no cookie
and need none.  A request whose ``Origin`` is another site is refused too.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrepot.service.httpguard import CSP, SecurityHeaders
from entrepot.web.auth import Session

__all__ = ["CSP", "CsrfCheck", "SecurityHeaders"]

#: The most of a urlencoded form body read to find its token.
FORM_LIMIT = 1024 * 1024
#: The most of a multipart body read to find its first field.
FIRST_PART_LIMIT = 64 * 1024
_CSRF_PART = re.compile(rb'content-disposition:\s*form-data\s*;\s*name="csrf"\s*(?:\r|$)', re.I)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfCheck:
    """ASGI middleware: a session's unsafe requests must carry its CSRF token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("state", {}).get("session")
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or session is None:
            await self.app(scope, receive, send)
            return
        assert isinstance(session, Session)
        headers = Headers(scope=scope)
        if not _same_origin(headers):
            await _forbidden("a form of another site cannot post here")(scope, receive, send)
            return
        given = headers.get("x-csrf-token")
        replay: list[Message] = []
        if given is None:
            given, replay, too_big = await _token_in_body(headers, receive)
            if too_big:
                await _forbidden("the form is too large", 413)(scope, receive, send)
                return
        if given is None or not hmac.compare_digest(given.encode(), session.csrf.encode()):
            await _forbidden("the form's CSRF token is missing or stale: reload the page")(
                scope, receive, send
            )
            return
        await self.app(scope, _replaying(replay, receive), send)


def _same_origin(headers: Headers) -> bool:
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == headers.get("host", "")


async def _token_in_body(
    headers: Headers, receive: Receive
) -> tuple[str | None, list[Message], bool]:
    """The ``csrf`` field of a form body, the messages read, and whether it was too large."""
    kind = headers.get("content-type", "")
    media = kind.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        body, messages, complete = await _read(receive, FORM_LIMIT)
        if not complete:
            return None, messages, True
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("csrf")
        return (values[0] if values else None), messages, False
    if media == "multipart/form-data":
        boundary = _boundary(kind)
        if boundary is None:
            return None, [], False
        body, messages, _complete = await _read(receive, FIRST_PART_LIMIT, until=boundary, parts=2)
        return _first_field(body, boundary), messages, False
    return None, [], False


async def _read(
    receive: Receive, limit: int, *, until: bytes | None = None, parts: int = 0
) -> tuple[bytes, list[Message], bool]:
    """Read body messages up to ``limit`` bytes (or until ``until`` was seen ``parts`` times)."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return body, messages, False
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages, True
        if until is not None and body.count(until) >= parts:
            return body, messages, False
        if len(body) > limit:
            return body, messages, False


def _boundary(content_type: str) -> bytes | None:
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == "boundary" and value:
            return b"--" + value.strip('"').encode("latin-1")
    return None


def _first_field(body: bytes, boundary: bytes) -> str | None:
    """The value of the multipart body's first part when it is the ``csrf`` field."""
    pieces = body.split(boundary)
    if len(pieces) < 3:
        return None
    head, sep, value = pieces[1].partition(b"\r\n\r\n")
    if not sep or _CSRF_PART.search(head) is None:
        return None
    return value.removesuffix(b"\r\n").decode("latin-1")


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives back the body messages already read."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _forbidden(message: str, status: int = 403) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status)
