"""The password of a database URL: never stored, never shown, taken by reference.

A URL that is kept (in a job's parameters) or shown (in output, log lines,
error messages) must not carry a password.  The data center's commands
therefore refuse a URL with one and take the password by reference: an
environment variable, a file readable by its owner only — or nothing, and
libpq finds it itself (``PGPASSWORD``, ``PGPASSFILE``, ``~/.pgpass``).  URLs
are shown only as :func:`entrepot.db.masked_url` makes them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import URL

from entrepot.db import database_url
from entrepot.errors import ConfigError
from entrepot.redact import url_has_secret

#: Said whenever a URL with a password is refused.
HOW_TO = (
    "give the URL without it, and the password by reference: --db-password-env VAR, "
    "--db-password-file FILE, or libpq's PGPASSWORD / PGPASSFILE"
)


def refuse_password(url: str | None, where: str) -> None:
    """Raise :class:`ConfigError` when ``url`` carries a password; never repeat the URL."""
    if url is not None and url_has_secret(url):
        raise ConfigError(f"{where} carries a password: {HOW_TO}")


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
                f"the environment variable {env} that should hold the database password is unset"
            )
        return value
    if file is None:
        return None
    path = Path(file)
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the database password file {str(path)!r} may be read by others: chmod 600 it"
            )
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the database password file {str(path)!r}: {exc.strerror}"
        ) from None
    if not password:
        raise ConfigError(f"the database password file {str(path)!r} is empty")
    return password


def with_password(url: str | URL, password: str | None) -> URL:
    """``url`` (read by :func:`entrepot.db.database_url`) with ``password`` set, if any."""
    parsed = database_url(url)
    return parsed if password is None else parsed.set(password=password)
