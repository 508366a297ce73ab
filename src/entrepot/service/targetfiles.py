"""The local files a configured target names, read from the configuration file's folder.

Every relative path in the configuration file is read from the file's
folder, never from the directory the service or a command happens to run in
(systemd starts the service in ``/``).  For a target that covers its
``password_file`` and each option that names a local file
(:data:`PATH_OPTIONS`), whether written in its ``options`` table or in the
query string of its URL: a relative one in the URL is added to the options,
made absolute, and wins there as options win over the query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from entrepot.errors import ConfigError
from entrepot.targets.url import parse_url

__all__ = ["PATH_OPTIONS", "absolute", "absolute_options"]

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
