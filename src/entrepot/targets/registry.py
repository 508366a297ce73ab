"""Which backend serves which URL scheme: built-ins, plug-ins, lazy imports.

Backends are imported only when a URL of their scheme is opened, so
``entrepot`` works without the optional SFTP and S3 libraries; opening such a
URL without them raises :class:`~entrepot.errors.BackendUnavailable` with the
``pip install`` line that fixes it.  Third-party packages add schemes through
the ``entrepot.targets`` entry-point group (``scheme = "pkg.module:Class"``)
or, at run time, with :func:`register_backend`.
"""

from __future__ import annotations

import os
from typing import Any

from entrepot.plugins import PluginRegistry
from entrepot.targets.base import Target
from entrepot.targets.url import parse_url

ENTRY_POINT_GROUP = "entrepot.targets"


def _target_class(value: Any) -> type[Target]:
    if not (isinstance(value, type) and issubclass(value, Target)):
        raise TypeError(f"{value!r} is not a Target class")
    return value


#: Scheme → backend class: built-ins, then plug-ins from the entry-point group.
BACKENDS: PluginRegistry[type[Target]] = PluginRegistry(
    "target scheme",
    ENTRY_POINT_GROUP,
    {
        "file": "entrepot.targets.file:FileTarget",
        "memory": "entrepot.targets.memory:MemoryTarget",
        "ftp": "entrepot.targets.ftp:FTPTarget",
        "ftps": "entrepot.targets.ftp:FTPSTarget",
        "sftp": "entrepot.targets.sftp:SFTPTarget",
        "s3": "entrepot.targets.s3:S3Target",
    },
    # The extra that brings a backend's third-party library.
    extras={"sftp": "sftp", "s3": "s3"},
    check=_target_class,
    fold_case=True,
)


def register_backend(scheme: str, backend: str | type[Target], *, replace: bool = True) -> None:
    """Serve ``scheme`` with ``backend`` (a Target subclass or ``"module:Class"``)."""
    BACKENDS.register(scheme, backend, replace=replace)


def schemes() -> list[str]:
    """Every scheme that can be opened (plug-ins included), sorted."""
    return BACKENDS.names()


def backend_for(scheme: str) -> type[Target]:
    """The Target class for ``scheme``, importing it on first use."""
    return BACKENDS.load(scheme)


def open_target(url: str | os.PathLike[str], **options: Any) -> Target:
    """A target for ``url``; options as keywords (they win over the URL's query string).

    The connection opens on first use, or at once in a ``with`` block.
    """
    parsed = parse_url(url)
    return backend_for(parsed.scheme)(parsed, **options)
