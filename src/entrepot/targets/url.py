"""Target URLs: parsing, options from the query string, and masking secrets.

A target is named by a URL such as ``sftp://ingest@files.example.org:2222/drop``
or ``s3://bucket/prefix?endpoint_url=http://127.0.0.1:8333``.  The query
string carries options (the same names as the keyword options of
:func:`~entrepot.targets.open_target`); keywords win over the query string.

A password may appear in a URL, but it never appears in what is shown back:
:attr:`TargetURL.display` replaces it (and any secret option) with ``***``.
Prefer the ``password=`` keyword, ``password_env=NAME`` (read the secret from
an environment variable) or ``password_file=PATH``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from entrepot.errors import ConfigError

#: Option names whose values are secrets and are masked in every display.
SECRET_OPTIONS = frozenset({"password", "secret_key", "passphrase", "session_token"})
MASK = "***"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class TargetURL:
    """A parsed target URL.  ``path`` is the remote folder, without a trailing slash."""

    scheme: str
    host: str = ""
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()

    @property
    def display(self) -> str:
        """The URL to show to people: password and secret options masked."""
        netloc = ""
        if self.user is not None:
            netloc = quote(self.user, safe="")
            if self.password:
                netloc += ":" + MASK
            netloc += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc += host
        if self.port is not None:
            netloc += f":{self.port}"
        path = quote(self.path, safe="/")
        if self.scheme == "file":
            text = f"file://{path}"
        else:
            text = (
                f"{self.scheme}://{netloc}{'/' if path and not path.startswith('/') else ''}{path}"
            )
        if self.query:
            shown = [(k, MASK if k in SECRET_OPTIONS else v) for k, v in self.query]
            text += "?" + urlencode(shown, safe=":/*")
        return text

    def __str__(self) -> str:
        return self.display

    def options(self) -> dict[str, str]:
        """The query-string options as a dict (the last value of a repeated key wins)."""
        return dict(self.query)


def parse_url(url: str | os.PathLike[str]) -> TargetURL:
    """Parse ``url``; a plain path (no ``scheme://``) names a local folder (``file``)."""
    text = os.fspath(url)
    if "://" not in text:
        if not text:
            raise ConfigError("empty target URL")
        return TargetURL(scheme="file", path=str(Path(text).absolute()))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "file":
        # file:///abs/path, or file://./relative for convenience.
        raw = (
            unquote(parts.netloc + parts.path)
            if parts.netloc not in ("", "localhost")
            else unquote(parts.path)
        )
        if not raw:
            raise ConfigError("file URL without a path")
        return TargetURL(scheme="file", path=str(Path(raw).absolute()), query=query)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid port in target URL {_masked_text(text)}") from exc
    return TargetURL(
        scheme=scheme,
        host=parts.hostname or "",
        port=port,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        path=unquote(parts.path).rstrip("/"),
        query=query,
    )


def mask_url(url: str) -> str:
    """Mask the password in a URL string, even one that does not parse."""
    try:
        return parse_url(url).display
    except (ConfigError, ValueError):
        return _masked_text(url)


def _masked_text(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return text
    creds, _, tail = rest.partition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{tail}" if ":" in creds else text


def coerce(name: str, value: Any, kind: type) -> Any:
    """Convert an option value (often a query-string text) to ``kind``."""
    if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    if kind is bool:
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    else:
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    shown = MASK if name in SECRET_OPTIONS else repr(value)
    raise ConfigError(f"option {name!r}: expected {kind.__name__}, got {shown}")


def resolve_secret(
    name: str,
    value: str | None,
    *,
    env: str | None = None,
    file: str | None = None,
    fallback: str | None = None,
) -> str | None:
    """A secret from, in order: the value, the variable named ``env``, ``file``, ``fallback``."""
    if value:
        return value
    if env:
        found = os.environ.get(env)
        if found is None:
            raise ConfigError(f"{name}: environment variable {env!r} is not set")
        return found
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read {file!r}: {exc.strerror}") from exc
    return fallback
