"""The dashboard's ASGI app: the pages, the login form, static files, the guards.

:func:`build_dashboard` assembles it from the page modules listed in
:data:`PAGES` (each ``entrepot.web.pages.<name>`` exposes
``routes(host) -> list[BaseRoute]``) around one :class:`DashboardHost`.
The service's HTTP endpoint mounts it beside ``/healthz``, ``/readyz`` and
``/metrics`` (:func:`dashboard_for` is what ``entrepot serve`` hands it).

Requests pass, outermost first: the authentication gate (role from a
Bearer token or the session cookie), the CSRF check of form posts, then the
page.  A database locked by another process is a 503 to try again
(:mod:`entrepot.web.busy`), not a 500.  The security headers are the endpoint's, around every answer
(:class:`~entrepot.service.httpguard.SecurityHeaders`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from entrepot.logs import log_event
from entrepot.service.http import Tokens
from entrepot.web.auth import (
    COOKIE,
    SESSION_HOURS,
    AuthGate,
    LoginLimiter,
    Sessions,
    client_address,
    log_login,
    safe_next,
)
from entrepot.web.busy import busy_answer
from entrepot.web.guard import CsrfCheck
from entrepot.web.host import DaemonHost, DashboardHost
from entrepot.web.render import api, render

if TYPE_CHECKING:
    from entrepot.service.daemon import Daemon

__all__ = ["PAGES", "build_dashboard", "dashboard_for"]

logger = logging.getLogger("entrepot.web")
# python-multipart logs a warning for each malformed form before raising the error whose
# answer (400) says the same; with no handler of the application's on it, Python would
# print that line bare on stderr, outside the service's log.
logging.getLogger("python_multipart").addHandler(logging.NullHandler())

#: The page modules under ``entrepot.web.pages``, in menu order.
PAGES = ("overview", "jobs", "routes", "trace", "datacenter", "archives", "fleet", "config")


def build_dashboard(
    host: DashboardHost, tokens: Tokens, *, limiter: LoginLimiter | None = None
) -> Starlette:
    """The dashboard over ``host``, asking for ``tokens`` (the operator's must be set)."""
    if tokens.operator is None:
        raise ValueError("the dashboard needs the operator's token")
    sessions = Sessions()
    limiter = limiter or LoginLimiter()
    routes: list[BaseRoute] = [
        Route("/login", _login_form, methods=["GET"]),
        Route("/login", _login(tokens, sessions, limiter), methods=["POST"]),
        Route("/logout", _logout(sessions), methods=["POST"]),
        Route("/api/whoami", _whoami, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(files("entrepot.web") / "static"))),
    ]
    for name in PAGES:
        module = importlib.import_module(f"entrepot.web.pages.{name}")
        routes += module.routes(host)
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AuthGate, tokens=tokens, sessions=sessions),
            Middleware(CsrfCheck),
        ],
        exception_handlers={HTTPException: _http_error, DBAPIError: busy_answer},
    )
    app.state.host = host
    return app


def dashboard_for(daemon: Daemon) -> Callable[[Tokens], Starlette]:
    """What ``entrepot serve`` gives the HTTP endpoint: builds the dashboard of ``daemon``."""
    return lambda tokens: build_dashboard(DaemonHost(daemon), tokens)


def _login_form(request: Request) -> Response:
    return render(request, "login.html", next=safe_next(request.query_params.get("next")),
                  error=None)  # fmt: skip


def _login(tokens: Tokens, sessions: Sessions, limiter: LoginLimiter) -> Callable[[Request], Any]:
    async def login(request: Request) -> Response:
        address = client_address(request)
        # A place is taken before the form is read: guesses sent at once all count.
        wait = limiter.reserve(address)
        if wait > 0:
            form = await _login_fields(request)
            log_event(logger, "web.login_throttled", logging.WARNING, client=address)
            error = f"Too many failed logins: try again in {int(wait) + 1} s."
            return render(request, "login.html", status=429, next=_next(form), error=error)
        role = None
        try:
            form = await _login_fields(request)
            role = tokens.role_of(str(form.get("token") or "").strip())
        finally:
            limiter.release(address, failed=role is None)
        target = _next(form)
        log_login(request, role is not None, role)
        if role is None:
            return render(request, "login.html", status=401, next=target,
                          error="This token is not valid.")  # fmt: skip
        old = request.cookies.get(COOKIE)
        sessions.end(old)  # a new id at each login: a planted cookie never gains a role
        session_id, _session = sessions.start(role)
        response = RedirectResponse(target, 303)
        response.set_cookie(COOKIE, session_id, max_age=SESSION_HOURS * 3600, path="/",
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip
        return response

    return login


async def _login_fields(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=4, max_part_size=4096)


def _next(form: FormData) -> str:
    return safe_next(str(form.get("next") or "/"))


def _logout(sessions: Sessions) -> Callable[[Request], Response]:
    def logout(request: Request) -> Response:
        sessions.end(getattr(request.state, "session_id", None))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return logout


def _whoami(request: Request) -> Response:
    return api({"role": request.state.role})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or "authorization" in request.headers:
        response: Response = api({"error": exc.detail}, exc.status_code)
    else:
        response = render(request, "error.html", status=exc.status_code,
                          status_code=exc.status_code, message=exc.detail)  # fmt: skip
    response.headers.update(exc.headers or {})
    return response
