"""Target URLs: parsing, options from the query string, and masking secrets.

A target is named by a URL such as ``sftp://ingest@files.example.org:2222/drop``
or ``s3://bucket/prefix?endpoint_url=http://127.0.0.1:8333``.  The query
string carries options (the same names as the keyword options of
:func:`~entrepot.targets.open_target`); keywords win over the query string.

A password may appear in a URL, but it never appears in what is shown back:
:attr:`TargetURL.display` replaces it (and any secret option) with ``***``,
and every error about a URL shows it through
:func:`entrepot.redact.mask_url_text`, which masks passwords even in URLs
that do not parse (a space, a quote, an ``@`` in the password).  Prefer
``password_env=NAME`` or ``password_file=PATH``.

The parser refuses what it cannot read without guessing, rather than guess
wrong with a password in hand: a ``/``, ``?`` or ``#`` in a password must
be percent-encoded (``%2F``, ``%3F``, ``%23``), as must an ``@`` in a path
(``%40``); ``ftp:/host`` (one slash) is a typo, not a local folder; ports
are 1–65535; ``.`` and ``..`` are refused in remote paths, and ``..`` in
``file://`` paths, also percent-encoded (``%2e%2e``): a URL names its folder
without climbing to another.  :func:`folder_below` appends a sub-folder to a
URL under the same rules, checking what the parser will read.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

from entrepot.errors import ConfigError, InvalidName
from entrepot.names import check_name
from entrepot.redact import MASK, mask_url_text

__all__ = ["SECRET_OPTIONS", "TargetURL", "folder_below", "mask_url", "parse_url"]

#: Option names whose values are secrets and are masked in every display.
SECRET_OPTIONS = frozenset({"password", "secret_key", "passphrase", "session_token"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# A plain path that starts like a URL written with fewer than two slashes.
_LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


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

    @functools.cached_property
    def display(self) -> str:
        """The URL to show to people: password and secret options masked.

        Kept once made: every log line of every upload names its target.
        """
        netloc = ""
        if self.user is not None:
            netloc = quote(self.user, safe="")
            if self.password:
                netloc += ":" + MASK
            netloc += "@"
        netloc += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc += f":{self.port}"
        path = quote(self.path, safe="/")
        if self.scheme == "file":
            text = f"file://{path}"
        else:
            slash = "/" if path and not path.startswith("/") else ""
            text = f"{self.scheme}://{netloc}{slash}{path}"
        if self.query:
            shown = [(k, MASK if k in SECRET_OPTIONS else v) for k, v in self.query]
            text += "?" + urlencode(shown, safe=":/*")
        return text

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        # The generated repr would show secret query options; the display masks them.
        return f"TargetURL({self.display!r})"

    def options(self) -> dict[str, str]:
        """The query-string options as a dict (the last value of a repeated key wins)."""
        return dict(self.query)


def parse_url(url: str | os.PathLike[str]) -> TargetURL:
    """Parse ``url``; a plain path (no ``scheme://``) names a local folder (``file``)."""
    text = os.fspath(url)
    if not text:
        raise ConfigError("empty target URL")
    if "://" not in text:
        if _LOOKS_LIKE_URL.match(text) or _has_userinfo(text.split("/", 1)[0]):
            raise ConfigError(
                f"{mask_url_text(text)!r} looks like a URL without its '//' "
                "(write scheme://…); a local folder whose name holds ':' can be written ./name"
            )
        return TargetURL(scheme="file", path=str(Path(text).absolute()))
    scheme, _, rest = text.partition("://")
    if not _SCHEME.fullmatch(scheme):
        raise ConfigError(f"invalid scheme in target URL {mask_url_text(text)}")
    scheme = scheme.lower()
    if scheme == "file":
        return _parse_file(rest)
    return _parse_network(scheme, rest, text)


def _has_userinfo(authority: str) -> bool:
    return "@" in authority and ":" in authority.rpartition("@")[0]


def _parse_file(rest: str) -> TargetURL:
    """``file:///abs/path`` (or ``file://./relative`` for convenience)."""
    body, _, query_text = rest.partition("?")
    netloc, slash, path = body.partition("/")
    raw = unquote(body if netloc not in ("", "localhost") else slash + path)
    if not raw:
        raise ConfigError("file URL without a path")
    # Checked once decoded: "%2e%2e" is ".." to the file system.
    if ".." in raw.split("/") or "\x00" in raw:
        raise ConfigError(
            f"file URL {mask_url_text('file://' + rest)}: "
            "the path may not hold '..' or a NUL character"
        )
    query = tuple(parse_qsl(query_text, keep_blank_values=True))
    return TargetURL(scheme="file", path=str(Path(raw).absolute()), query=query)


def _parse_network(scheme: str, rest: str, text: str) -> TargetURL:
    # The authority ends at the first "/" or "?"; its userinfo at its last "@".
    authority = re.split(r"[/?]", rest, maxsplit=1)[0]
    remainder = rest[len(authority) :]
    if "@" not in authority and "@" in remainder:
        # Either a password holding "/" or "?", or a path holding "@": refuse to guess.
        raise ConfigError(
            f"target URL {mask_url_text(text)} is ambiguous: percent-encode a '/', '?' or '#' "
            "in a password (%2F, %3F, %23) and an '@' in a path or option (%40)"
        )
    path_text, _, query_text = remainder.partition("?")
    userinfo, at, hostport = authority.rpartition("@")
    user = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name)
        password = unquote(secret) if colon else None
    host, port = _host_and_port(hostport, text)
    path = _remote_path(scheme, unquote(path_text), text)
    if scheme == "s3":
        if at:
            raise ConfigError(
                f"target URL {mask_url_text(text)}: S3 keys do not go in the URL; use the "
                "access_key option, and secret_key by reference (password_env or password_file)"
            )
        if not host:
            raise ConfigError(f"target URL {mask_url_text(text)} names no bucket")
    elif scheme != "memory" and not host:
        raise ConfigError(f"target URL {mask_url_text(text)} names no host")
    return TargetURL(
        scheme=scheme,
        host=host,
        port=port,
        user=user,
        password=password,
        path="/" + path if path else "",
        query=tuple(parse_qsl(query_text, keep_blank_values=True)),
    )


def _host_and_port(hostport: str, text: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        inside, bracket, after = hostport[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise ConfigError(f"invalid IPv6 address in target URL {mask_url_text(text)}")
        host, port_text = inside, after[1:] if after else None
    else:
        host, colon, port_text_found = hostport.partition(":")
        port_text = port_text_found if colon else None
    host = unquote(host)
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"invalid port in target URL {mask_url_text(text)} (1–65535)")
    return host, int(port_text)


def _remote_path(scheme: str, path: str, text: str) -> str:
    """The path without its outer slashes; ``.`` and ``..`` (and, for S3, ``//``) refused."""
    stripped = path.strip("/")
    parts = stripped.split("/") if stripped else []
    if any(part in {".", ".."} for part in parts) or (scheme == "s3" and "//" in path):
        raise ConfigError(
            f"target URL {mask_url_text(text)}: the path may not hold '.', '..' or empty parts"
        )
    if "\x00" in path:
        raise ConfigError(f"target URL {mask_url_text(text)}: the path holds a NUL character")
    return stripped


def folder_below(url: str, folder: str) -> str:
    """``url`` with ``folder`` (``a/b``, percent-encoded as in a URL) appended to its path.

    Each part of ``folder`` is checked *after* percent-decoding, as a name
    (:func:`entrepot.names.check_name`: no ``.``, ``..``, empty part,
    separator, NUL or control character, no leading dot), so the folder
    stays below the URL's whatever the backend makes of it; each is then
    encoded again, so a ``?`` or ``#`` in it is a character of the name,
    never the start of options.  An empty ``folder`` leaves ``url`` as it is.
    """
    stripped = folder.strip("/")
    if not stripped:
        return url
    parts = unquote(stripped).split("/")
    for part in parts:
        try:
            check_name(part, what="folder")
        except InvalidName as exc:
            raise ConfigError(f"{folder!r} cannot be a folder below a target: {exc}") from None
    if "://" not in url:
        # A plain path is read as it is, neither decoded nor split at "?".
        return "/".join([url.rstrip("/"), *parts])
    base, qmark, query = url.partition("?")
    below = "/".join(quote(part, safe="") for part in parts)
    return f"{base.rstrip('/')}/{below}{qmark}{query}"


def mask_url(url: str) -> str:
    """Mask the password in a URL string, even one that does not parse."""
    try:
        return parse_url(url).display
    except ConfigError:
        return mask_url_text(url)
