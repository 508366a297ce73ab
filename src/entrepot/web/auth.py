"""Who may see and do what: tokens, the login form, sessions, two roles.

Two roles: a **viewer** reads every page; an **operator** also acts (retry,
drop, upload, import, retire, reload).  Each has its token in its own file
(``[service] token_file`` for the operator, ``viewer_token_file`` for the
viewer).  A request proves its role in one of two ways:

* ``Authorization: Bearer <token>`` (scripts, the JSON API); such requests
  carry no cookie, so they need no CSRF token;
* the login form, which takes a token once and starts a **session**: a
  random id in an HTTP-only, ``SameSite=Strict`` cookie (``Secure`` when the
  request came over TLS), kept in this process's memory only — a restart or
  a logout ends it, and it expires after :data:`SESSION_HOURS`.

Failed logins are limited per client address (:class:`LoginLimiter`): past
:data:`LOGIN_FAILURES` in :data:`LOGIN_WINDOW` seconds, the form answers 429
until the window has passed; logins still being judged count as failures,
so sending guesses at the same time gains nothing.  The address is the
connection's (the endpoint believes no ``X-Forwarded-For``).

:class:`AuthGate` is the ASGI middleware: it puts ``role`` and ``session``
into ``request.state`` and turns away requests without a valid token or
session (HTML pages go to the login form, everything else gets 401).
:func:`require_operator` is what every handler that changes anything calls
first.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from entrepot.logs import log_event
from entrepot.service.http import Tokens

__all__ = [
    "COOKIE",
    "OPERATOR",
    "VIEWER",
    "AuthGate",
    "LoginLimiter",
    "Session",
    "Sessions",
    "require_operator",
]

logger = logging.getLogger("entrepot.web")

VIEWER = "viewer"
OPERATOR = "operator"
#: The session cookie's name.
COOKIE = "entrepot_session"
#: A session ends this long after the login, whatever happens.
SESSION_HOURS = 12
#: Failed logins allowed per client address within :data:`LOGIN_WINDOW` seconds.
LOGIN_FAILURES = 5
LOGIN_WINDOW = 60.0
#: Paths open without a token or session: the login form and the package's static files.
OPEN_PREFIXES = ("/login", "/static/")


@dataclass
class Session:
    """One login: its role, its CSRF token, its notices waiting to be shown."""

    role: str
    csrf: str
    expires: float
    notices: list[str] = field(default_factory=list)

    @property
    def can_operate(self) -> bool:
        return self.role == OPERATOR


class Sessions:
    """The sessions of this process, by their random id; thread-safe."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def start(self, role: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(role, secrets.token_urlsafe(32), self._clock() + SESSION_HOURS * 3600)
        with self._lock:
            self._forget_expired()
            self._by_id[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            if session is not None and session.expires <= self._clock():
                del self._by_id[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)

    def _forget_expired(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[key]


class LoginLimiter:
    """At most :data:`LOGIN_FAILURES` failed logins per address per :data:`LOGIN_WINDOW`.

    A login takes a place before its form is read (:meth:`reserve`) and gives
    it back only when its token was right (:meth:`release`); a wrong token, or
    a form that never came whole, keeps it as a failure.  Logins in progress
    hold their places, so guesses sent all at once are judged no more often
    than guesses sent one after the other.
    """

    def __init__(
        self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW, clock: Any = None
    ) -> None:
        self.failures = failures
        self.window = window
        self._clock = clock or time.monotonic
        self._failed: dict[str, deque[float]] = {}
        self._trying: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str) -> float:
        """Take a place for a login from ``address``; else the seconds it must wait.

        0 means the place was taken: :meth:`release` it, whatever happens next.
        """
        with self._lock:
            recent = self._recent(address)
            trying = self._trying.get(address, 0)
            if len(recent) + trying < self.failures:
                self._trying[address] = trying + 1
                return 0.0
            if len(recent) < self.failures:
                # Only the logins in progress fill the places: if they all fail, a whole window.
                return self.window
            oldest_that_counts = recent[len(recent) - self.failures]
            return max(0.0, oldest_that_counts + self.window - self._clock())

    def release(self, address: str, *, failed: bool) -> None:
        """End the login that :meth:`reserve` let in; a ``failed`` one counts for the window."""
        with self._lock:
            trying = self._trying.pop(address, 0) - 1
            if trying > 0:
                self._trying[address] = trying
            recent = self._recent(address)
            if failed:
                recent.append(self._clock())
            elif not recent and trying <= 0:
                del self._failed[address]  # nothing left to remember of this address

    def _recent(self, address: str) -> deque[float]:
        recent = self._failed.setdefault(address, deque())
        while recent and recent[0] + self.window <= self._clock():
            recent.popleft()
        return recent


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_operator(request: Request) -> None:
    """Raise 403 unless the request comes from an operator (call it first in every action)."""
    if getattr(request.state, "role", None) != OPERATOR:
        raise HTTPException(403, "this needs the operator's token: a viewer may only look")


def safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only (no ``//host``, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class AuthGate:
    """ASGI middleware: a role for each request from its Bearer token or session cookie."""

    def __init__(self, app: ASGIApp, tokens: Tokens, sessions: Sessions) -> None:
        self.app = app
        self.tokens = tokens
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        state["role"], state["session"], state["session_id"] = None, None, None
        header = request.headers.get("authorization")
        if header is not None:
            role = self.tokens.role_of_header(header.encode("latin-1", "replace"))
            if role is None:
                await _refused(request, "a valid token is required")(scope, receive, send)
                return
            state["role"] = role
        else:
            session_id = request.cookies.get(COOKIE)
            session = self.sessions.get(session_id)
            if session is not None:
                state["role"], state["session"] = session.role, session
                state["session_id"] = session_id
        path = scope["path"]
        if state["role"] is None and not path.startswith(OPEN_PREFIXES):
            await _refused(request, "log in first")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _refused(request: Request, message: str) -> Response:
    """Pages send a browser to the login form; the API and actions get 401."""
    wants_page = request.method in ("GET", "HEAD") and not request.url.path.startswith("/api/")
    if wants_page and "authorization" not in request.headers:
        return RedirectResponse(f"/login?next={quote(_as_sent(request), safe='')}", 303)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, 401, headers={"WWW-Authenticate": "Bearer"})
    return PlainTextResponse(message + "\n", 401, headers={"WWW-Authenticate": "Bearer"})


def _as_sent(request: Request) -> str:
    """The path and query as the client sent them, still quoted: asked for again, the same page.

    The decoded path would not do: a name holding ``%41`` would come back as ``A``.
    """
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(request.url.path)
    return path + (f"?{request.url.query}" if request.url.query else "")


def log_login(request: Request, ok: bool, role: str | None = None) -> None:
    level = logging.INFO if ok else logging.WARNING
    log_event(logger, "web.login" if ok else "web.login_refused", level,
              client=client_address(request), role=role)  # fmt: skip
