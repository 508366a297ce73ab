"""What ``serve`` needs of the machine before it starts, checked the same way everywhere.

A configuration can be right and the machine not ready for it.  ``serve``
refuses to start (exit 3) when

* a folder it must make — the state folder, a spool — has a file in its
  place or in the place of one of its parents (:func:`check_folder`);
* a token file is missing, empty, or open to other users (:func:`read_token`);
* the HTTP endpoint would listen where other hosts reach it with no token to
  ask for (:func:`check_reach`).

``entrepot validate`` reports the same through
:func:`entrepot.service.loading.environment_problems`, which calls these very
functions: what ``validate`` passes, ``serve`` does not refuse for these
reasons.  Standard library only: ``validate`` does not pay for the web stack.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from entrepot.errors import ConfigError

if TYPE_CHECKING:
    from entrepot.service.config import Config

__all__ = [
    "check_folder",
    "check_reach",
    "endpoint_problems",
    "folder_problems",
    "is_loopback",
    "read_token",
    "split_address",
]


def check_folder(path: Path, what: str) -> None:
    """Refuse ``path`` as a folder to use or make when a file stands in its way."""
    for place in (path, *path.parents):
        if os.path.lexists(place):
            if not place.is_dir():
                where = "" if place == path else f" ({place} is a file)"
                raise ConfigError(f"{what} {path} cannot be a folder: a file is in the way{where}")
            return


def read_token(path: Path) -> str:
    """The token in ``path``, which must be a regular file private to its owner."""
    from entrepot.targets.options import check_private_file

    check_private_file(path, what="token file")
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"token file {str(path)!r} cannot be read: {exc}") from exc
    if not token:
        raise ConfigError(f"token file {str(path)!r} is empty: write a long random token in it")
    return token


def split_address(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9180`` for IPv6) as a host and a port number."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"listen address {listen!r} is not HOST:PORT, e.g. '127.0.0.1:9180'")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_reach(listen: str, guarded: bool) -> None:
    """Refuse an endpoint other hosts can reach when no token guards it."""
    host, _port = split_address(listen)
    if not guarded and not is_loopback(host):
        raise ConfigError(
            f"service.listen {listen!r} can be reached from other hosts: "
            "set service.token_file, or listen on 127.0.0.1"
        )


#: Where a problem is in the file (``("service", "token_file")``) and what it is.
Found = tuple[tuple[str, ...], str]


def folder_problems(config: Config) -> Iterator[Found]:
    """The state folder and the spools that ``serve`` could not make or use."""
    checks: list[tuple[tuple[str, ...], Path, str]] = [
        (("service", "state"), config.service.state, "state folder")
    ]
    checks += [(("spools", name, "path"), s.path, f"spool {name!r}")
               for name, s in config.spools.items()]  # fmt: skip
    for where, path, what in checks:
        try:
            check_folder(path, what)
        except ConfigError as exc:
            yield where, str(exc)


def endpoint_problems(config: Config) -> Iterator[Found]:
    """The token files the endpoint could not read, and an endpoint left open to others."""
    service = config.service
    for key in ("token_file", "viewer_token_file"):
        path = getattr(service, key)
        if path is not None:
            try:
                read_token(path)
            except ConfigError as exc:
                yield ("service", key), str(exc)
    if service.listen is not None:
        guarded = service.token_file is not None or service.viewer_token_file is not None
        try:
            check_reach(service.listen, guarded)
        except ConfigError as exc:
            yield ("service", "listen"), str(exc)
