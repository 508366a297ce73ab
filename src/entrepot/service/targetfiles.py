"""The local files a configured target names, read from the configuration file's folder.

Every relative path in the configuration file is read from the file's
folder, never from the directory the service or a command happens to run in
(systemd starts the service in ``/``).  For a target that covers its
``password_file`` and each option that names a local file
(:data:`PATH_OPTIONS`), whether written in its ``options`` table or in the
query string of its URL: a relative one in the URL is added to the options,
made absolute, and wins there as options win over the query string.  A
local folder written as a relative path (``drop``, ``./out``,
``file://./out``) is made absolute the same way (:func:`absolute_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from entrepot.errors import ConfigError
from entrepot.targets.url import parse_url

__all__ = [
    "PATH_OPTIONS", "absolute", "absolute_options", "absolute_url", "target_file_problems",
]  # fmt: skip

#: The target options, of every backend, whose value is a local file: the common
#: ``password_file``, the CA bundle of FTPS and S3, SFTP's host keys and private key.
#: (``tests/unit/test_config_target_files.py`` holds it to the backends' declarations.)
PATH_OPTIONS = frozenset({"password_file", "ca_file", "known_hosts", "key_file"})


def absolute(value: Path, base: Path | None) -> Path:
    """``value`` (``~`` expanded) made absolute against ``base``, the config file's folder."""
    path = value.expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path.absolute()


def absolute_url(url: str, base: Path | None) -> str:
    """``url``, a local folder's made absolute against ``base`` when written relative:
    a plain path (``drop``, ``./out``) or ``file://./out``; any other URL as written."""
    if base is None:
        return url
    if "://" not in url:
        # A plain path is taken literally (no percent-decoding): so is its base.
        # A relative one that parse_url would refuse (it looks like a URL) stays as written.
        path = Path(url).expanduser()
        if _looks_like_url(url):
            return url
        return str(path if path.is_absolute() else base.absolute() / path)
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "file" or not rest.startswith("."):
        return url  # file:///abs, file://localhost/abs, a network URL
    # The base goes in percent-encoded, as the rest of the URL is written.
    return f"{scheme}://{quote(str(base.absolute()), safe='/')}/{rest}"


def _looks_like_url(text: str) -> bool:
    try:
        parse_url(text)
    except ConfigError:
        return True
    return False


def absolute_options(options: Mapping[str, Any], url: str, base: Path | None) -> dict[str, Any]:
    """``options`` with every file they or ``url``'s query string name made absolute."""
    written = {**_query_paths(url), **options}
    resolved = {
        key: str(absolute(Path(value), base))
        for key, value in written.items()
        if key in PATH_OPTIONS and isinstance(value, str) and value  # empty: the default
    }
    return {**options, **resolved}


def _query_paths(url: str) -> dict[str, str]:
    """The relative files in ``url``'s query string (absolute ones are read as written)."""
    try:
        query = parse_url(url).options()
    except ConfigError:
        return {}  # the URL itself is reported where it is checked
    return {
        key: value
        for key, value in query.items()
        if key in PATH_OPTIONS and value and not Path(value).expanduser().is_absolute()
    }


def target_file_problems(url: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(option, message)`` for each file a target names (:data:`PATH_OPTIONS`, in its
    options or its URL's query string) that it could not use: missing, not a file, or —
    a ``ca_file`` — holding no certificate.  ``password_file`` is checked with the
    password references."""
    from entrepot.targets.tls import client_context

    try:
        named = {**parse_url(url).options(), **options}
    except ConfigError:
        named = dict(options)  # the URL itself is reported where it is checked
    problems = []
    for option in sorted(PATH_OPTIONS - {"password_file"}):
        value = named.get(option)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser()
        if not path.exists():
            problems.append((option, f"{option} '{path}': no such file"))
        elif not path.is_file():
            problems.append((option, f"{option} '{path}': not a file"))
        elif option == "ca_file":
            try:
                client_context(ca_file=str(path))
            except ConfigError as exc:
                problems.append((option, str(exc)))
    return problems
