"""A database that another process holds locked: "busy, try again", not a crash.

An action (Retry, Drop, an import, a retire…) writes to the ledger or the
data center's database.  While another process holds the write lock —
SQLite's one writer, a PostgreSQL row or table lock, a deadlock or a
serialization failure — the write waits out its timeout and then fails.
That is no fault of the page nor of the request: the request is answered
503 with ``Retry-After`` (JSON ``{"error": …}`` to a script; a notice on the
page it came from for a form post, a page saying so for any other), and the
log gets one warning line (``web.database_busy``), not a traceback.  Any
other database error stays what it was: a 500 with its traceback.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response

from entrepot.logs import log_event
from entrepot.web.auth import safe_next
from entrepot.web.render import api, flash, render, see_other

__all__ = ["BUSY", "RETRY_AFTER", "busy_answer", "is_busy"]

logger = logging.getLogger("entrepot.web")

BUSY = "The database is busy: another process is writing to it. Try again in a moment."
#: Seconds a client is told to wait before it tries again.
RETRY_AFTER = 5
# PostgreSQL: lock_not_available, deadlock_detected, serialization_failure.
_BUSY_STATES = frozenset({"55P03", "40P01", "40001"})
# SQLite: "database is locked", "database table is locked", "database schema is locked".
_BUSY_WORDS = ("is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is locked by someone else (worth trying again)."""
    if not isinstance(exc, DBAPIError):
        return False
    cause = exc.orig
    if getattr(cause, "sqlstate", None) in _BUSY_STATES:
        return True
    text = str(cause).lower()
    return any(words in text for words in _BUSY_WORDS)


async def busy_answer(request: Request, exc: Exception) -> Response:
    """The answer to a request that met a locked database; other errors go on up."""
    if not is_busy(exc):
        raise exc
    assert isinstance(exc, DBAPIError)
    log_event(logger, "web.database_busy", logging.WARNING, method=request.method,
              path=request.url.path, error=f"{type(exc.orig).__name__}: {exc.orig}")  # fmt: skip
    headers = {"Retry-After": str(RETRY_AFTER)}
    if request.url.path.startswith("/api/") or "authorization" in request.headers:
        response = api({"error": BUSY}, 503)
    elif request.method == "POST":
        flash(request, BUSY)
        response = see_other(_came_from(request))
    else:
        response = render(request, "error.html", status=503, status_code=503, message=BUSY)
    response.headers.update(headers)
    return response


def _came_from(request: Request) -> str:
    """The page of this site the form was posted from (its ``Referer``), else ``/``."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
