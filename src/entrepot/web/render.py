"""Turning a page's data into a response: templates, notices, redirects, JSON, pages.

Templates live in ``entrepot/web/templates`` and are rendered with
autoescaping on, so every name, reason and URL shown is escaped; nothing
from the outside is ever marked safe.  A name, error or URL from outside is
shown through the ``visible`` filter (:func:`~entrepot.redact.printable`,
the masking of the logs: control characters and bidirectional overrides as
``\\x1b``, ``\\u202e``), and linked only when it is a ``plain_name``
(:func:`~entrepot.names.check_name` passes it): any other can never be
asked for by a link, so it is shown without one.  A file name may hold a
byte that is not UTF-8 (a lone surrogate, as Python reads it from the
disk): pages show it as ``\\xe9`` and JSON as its ``\\udce9`` escape, as
``entrepot dc ls`` does — never an error.  Every page gets, besides its own
data: ``role``, ``can_operate``, ``csrf_token`` (for its forms), ``nav``
(the menu, with the current entry), ``generation`` (of the configuration)
and ``notices`` (what the last action said, shown once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from entrepot.errors import InvalidName
from entrepot.names import check_name
from entrepot.redact import is_utf8, printable
from entrepot.units import format_size
from entrepot.web.auth import OPERATOR, Session

__all__ = ["NAV", "Paging", "api", "ascii_number", "flash", "paging", "render", "see_other"]

#: The menu: label and path, in order.
NAV = (
    ("Overview", "/"),
    ("Jobs", "/jobs"),
    ("Routes", "/routes"),
    ("Trace", "/trace"),
    ("Data center", "/datacenter"),
    ("Archives", "/archives"),
    ("Fleet", "/fleet"),
    ("Config", "/config"),
)
#: Rows per page of every paginated listing.
PAGE_SIZE = 50


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("entrepot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Whatever a template prints without ``visible`` still holds no lone surrogate,
        # which the page's UTF-8 cannot encode: it shows the byte it stands for.
        finalize=_encodable,
    )
    env.filters["size"] = format_size
    env.filters["when"] = _when
    env.filters["visible"] = printable
    env.filters["urlencode"] = _urlencode
    env.tests["plain_name"] = is_plain_name
    return env


def is_plain_name(name: object) -> bool:
    """Whether ``name`` is one a link may carry: a plain file name, checked as every name
    the pages serve is checked (no control character, no byte that is not UTF-8)."""
    try:
        check_name(name)
    except InvalidName:
        return False
    return True


def _urlencode(value: Any) -> str:
    """Jinja's ``urlencode``, but never an error: a byte of a name that was not UTF-8 is
    written as that byte (``%E9``) rather than making the page fail."""
    if isinstance(value, str) and _has_surrogate(value):
        try:
            return quote(value.encode("utf-8", "surrogateescape"), safe="/")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            return quote(printable(value), safe="/")
    return str(jinja2.filters.do_urlencode(value))


def _encodable(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup) and _has_surrogate(value):
        return printable(value)
    return value


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and not is_utf8(text)


def _when(value: datetime | str | None) -> str:
    """A time as people read it (UTC, to the second); an empty cell for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.tzinfo else "")


def render(request: Request, template: str, /, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` and what every page gets."""
    session: Session | None = getattr(request.state, "session", None)
    notices = list(session.notices) if session is not None else []
    if session is not None:
        session.notices.clear()
    role = getattr(request.state, "role", None)
    host = getattr(request.app.state, "host", None)
    path = request.url.path
    current = max((p for _, p in NAV if path == p or path.startswith(p.rstrip("/") + "/")),
                  key=len, default="/")  # fmt: skip
    base = {
        "role": role,
        "can_operate": role == OPERATOR,
        "csrf_token": session.csrf if session is not None else "",
        "nav": [(label, p, p == current) for label, p in NAV],
        "generation": host.generation if host is not None else None,
        "notices": notices,
        "request_path": path,
    }
    html = environment().get_template(template).render({**base, **context})
    return HTMLResponse(html, status)


def flash(request: Request, text: str) -> None:
    """Show ``text`` once, on the next page this session opens (nothing for a Bearer call)."""
    session: Session | None = getattr(request.state, "session", None)
    if session is not None:
        session.notices.append(text)


def see_other(path: str) -> RedirectResponse:
    """303 to ``path`` (of this site) after a form post."""
    return RedirectResponse(
        path if path.startswith("/") and not path.startswith("//") else "/", 303
    )


#: A lone surrogate (a byte of a file name that was not UTF-8) as its JSON escape: UTF-8
#: cannot encode it, and every JSON reader reads the escape back as the same character.
_SURROGATE_ESCAPES = {code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)}


def api(data: Any, status: int = 200) -> Response:
    """``data`` as JSON (dates as ISO 8601 text; lone surrogates as their escapes)."""
    text = json.dumps(data, default=_jsonable, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))  # fmt: skip
    if not text.isascii():
        text = text.translate(_SURROGATE_ESCAPES)
    return Response(text, status, media_type="application/json")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__fspath__"):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class Paging:
    """Which page of a listing: ``offset`` and ``limit`` for the query (one row more than shown)."""

    page: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        """Rows to ask for: one beyond the page tells whether a next page exists."""
        return self.size + 1

    def cut(self, rows: list[Any]) -> tuple[list[Any], bool]:
        """The rows of this page, and whether there is a next one."""
        return rows[: self.size], len(rows) > self.size


def paging(request: Request, size: int = PAGE_SIZE) -> Paging:
    """The ``?page=`` of the request (1 when missing or not a positive number below 10⁶)."""
    page = ascii_number(request.query_params.get("page"))
    return Paging(page if page is not None and 0 < page < 1_000_000 else 1, size)


def ascii_number(text: str | None) -> int | None:
    """``text`` as a whole number when it is one in ASCII digits, of at most 18 of them;
    else None.  A client's text: ``str.isdigit`` also passes ``²``, which :func:`int`
    refuses, and :func:`int` refuses more than 4,300 digits — each a 500, not an answer.
    """
    if text is None or not (0 < len(text) <= 18 and text.isascii() and text.isdigit()):
        return None
    return int(text)
