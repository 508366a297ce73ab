"""The password of a database URL: never stored, never shown, taken by reference.

A URL written in a job's parameters, a log line or an error message must
not carry a password.  Imports that run as jobs therefore take the URL
without it and name where the password is: an environment variable, a
file readable by its owner only — or nothing, and libpq finds it itself
(``PGPASSWORD``, ``PGPASSFILE``, ``~/.pgpass``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from entrepot.errors import ConfigError

#: Query parameters that carry a secret (libpq's ``password`` among them).
SECRET_PARAMETERS = frozenset({"password", "passwd", "pass", "pwd", "secret", "token"})

#: Said whenever a URL with a password is refused.
HOW_TO = (
    "give the URL without it and the password by reference: --db-password-env VAR, "
    "--db-password-file FILE, or libpq's PGPASSWORD / PGPASSFILE"
)


def parse_url(url: str | URL) -> URL:
    """``url`` parsed; a :class:`ConfigError` that does not repeat it when it cannot be."""
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(
            "not a database URL (expected e.g. postgresql://user@host/database)"
        ) from None


def has_password(url: str | URL) -> bool:
    """Whether ``url`` carries a password, in its user part or as a query parameter.

    An ``@`` left in the host means a password with an unencoded ``@``.
    """
    parsed = parse_url(url)
    if parsed.password is not None or "@" in (parsed.host or ""):
        return True
    return any(key.lower() in SECRET_PARAMETERS for key in parsed.query)


def shown_url(url: str | URL) -> str:
    """``url`` fit to show or store: its password and secret parameters are cut out."""
    parsed = parse_url(url)
    host = parsed.host
    if host is not None and "@" in host:
        # The part before the last "@" belongs to a password with an "@" in it.
        host = host.rsplit("@", 1)[1]
    secret = [key for key in parsed.query if key.lower() in SECRET_PARAMETERS]
    cleaned = parsed._replace(password=None, host=host).difference_update_query(secret)
    return cleaned.render_as_string(hide_password=False)


def read_password(
    *, env: str | None = None, file: str | os.PathLike[str] | None = None
) -> str | None:
    """The password named by ``env`` (a variable's name) or ``file``; ``None`` for neither.

    A file that others may read is refused, as ssh refuses such a key.
    """
    if env is not None and file is not None:
        raise ConfigError("name the database password once: an environment variable or a file")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"the environment variable {env} holding the database password is unset"
            )
        return value
    if file is not None:
        path = Path(file)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(
                    f"the database password file {str(path)!r} may be read by others: chmod 600 it"
                )
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read the database password file {str(path)!r}: {exc.strerror}"
            ) from None
        password = text.rstrip("\r\n")
        if not password:
            raise ConfigError(f"the database password file {str(path)!r} is empty")
        return password
    return None


def with_password(url: str | URL, password: str | None) -> URL:
    """``url`` with ``password`` set (as it is when ``password`` is ``None``)."""
    parsed = parse_url(url)
    return parsed if password is None else parsed.set(password=password)
