"""What a target reports about remote entries, and the rules for remote names.

:class:`RemoteInfo` is the answer of ``stat``, ``list`` and ``upload``.
Remote names are ``/``-separated paths relative to a target's folder; every
component is checked with :func:`entrepot.names.check_name`.  Uploads in
progress live under *partial* names (``.NAME.TOKEN.partial``) next to their
final name, which listings hide.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import IO

from entrepot.errors import ConfigError
from entrepot.names import check_name

_PARTIAL_SUFFIX = ".partial"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RemoteInfo:
    """What a target knows about one remote entry.

    ``name`` is relative to the target's folder (``"a/b.csv"``); ``checksum``
    is ``"md5:<hex>"`` where the protocol gives one, else None.
    """

    name: str
    size: int
    mtime: float | None = None
    checksum: str | None = None
    is_dir: bool = False


def split_name(name: str, *, what: str = "remote name") -> list[str]:
    """The checked components of a remote ``name`` such as ``"a/b.csv"``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what} must be a non-empty string")
    return [check_name(part, what=what) for part in name.split("/")]


def is_partial(name: str) -> bool:
    """True for the temporary names :meth:`Target.upload` writes before publishing."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") and base.endswith(_PARTIAL_SUFFIX)


def partial_name(path: str) -> str:
    """A fresh temporary name next to ``path`` (kept within 255 bytes)."""
    folder, _, base = path.rpartition("/")
    stem = base.encode("utf-8")[:200].decode("utf-8", "ignore")
    tmp = f".{stem}.{secrets.token_hex(4)}{_PARTIAL_SUFFIX}"
    return f"{folder}/{tmp}" if folder else tmp


class HashingSink:
    """A write-only file object that only hashes what it receives."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def truncate(self, size: int | None = None) -> int:
        return 0

    def tell(self) -> int:
        return 0


def md5_like(src: IO[bytes], start: int, like: str) -> str | None:
    """The local checksum in the same ``algo:hex`` form as ``like`` (None if unknown)."""
    if not like.startswith("md5:"):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    src.seek(start)
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
    src.seek(start)
    return "md5:" + digest.hexdigest()
