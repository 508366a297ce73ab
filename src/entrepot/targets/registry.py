"""Which backend serves which URL scheme: built-ins, plug-ins, lazy imports.

Backends are imported only when a URL of their scheme is opened, so
``entrepot`` works without the optional SFTP and S3 libraries; opening such a
URL without them raises :class:`~entrepot.errors.BackendUnavailable` with the
``pip install`` line that fixes it.  Third-party packages add schemes through
the ``entrepot.targets`` entry-point group (``scheme = "pkg.module:Class"``)
or, at run time, with :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any

from entrepot.errors import BackendUnavailable, ConfigError
from entrepot.targets.base import Target
from entrepot.targets.url import parse_url

ENTRY_POINT_GROUP = "entrepot.targets"

_BUILTIN: dict[str, str] = {
    "file": "entrepot.targets.file:FileTarget",
    "memory": "entrepot.targets.memory:MemoryTarget",
    "ftp": "entrepot.targets.ftp:FTPTarget",
    "ftps": "entrepot.targets.ftp:FTPSTarget",
    "sftp": "entrepot.targets.sftp:SFTPTarget",
    "s3": "entrepot.targets.s3:S3Target",
}
# The extra that brings a backend's third-party library.
_EXTRAS = {"sftp": "sftp", "s3": "s3"}
_registered: dict[str, str | type[Target]] = {}


def register_backend(scheme: str, backend: str | type[Target]) -> None:
    """Serve ``scheme`` with ``backend`` (a Target subclass or ``"module:Class"``)."""
    _registered[scheme.lower()] = backend


def schemes() -> list[str]:
    """Every scheme that can be opened (plug-ins included), sorted."""
    names = set(_BUILTIN) | set(_registered)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def backend_for(scheme: str) -> type[Target]:
    """The Target class for ``scheme``, importing it on first use."""
    scheme = scheme.lower()
    spec: str | type[Target] | None = _registered.get(scheme)
    if spec is None:
        spec = _BUILTIN.get(scheme)
    if spec is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
            spec = ep.value
            break
    if spec is None:
        known = ", ".join(schemes())
        raise ConfigError(f"unknown target scheme {scheme!r} (known: {known})")
    if isinstance(spec, type):
        return spec
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = _EXTRAS.get(scheme)
        hint = (
            f"pip install 'entrepot[{extra}]'"
            if extra
            else f"install the package providing {module_name}"
        )
        raise BackendUnavailable(
            f"the {scheme}:// backend needs {exc.name or 'a missing module'}: {hint}"
        ) from exc
    backend = getattr(module, attr)
    if not (isinstance(backend, type) and issubclass(backend, Target)):
        raise ConfigError(f"{spec} is not a Target class")
    return backend


def open_target(url: str | os.PathLike[str], **options: Any) -> Target:
    """A target for ``url``; options as keywords (they win over the URL's query string).

    The connection opens on first use, or at once in a ``with`` block.
    """
    parsed = parse_url(url)
    return backend_for(parsed.scheme)(parsed, **options)
