"""What a target reports about remote entries, and the rules for remote names.

:class:`RemoteInfo` is the answer of ``stat``, ``list`` and ``upload``.
Remote names are ``/``-separated paths relative to a target's folder; every
component is checked with :func:`entrepot.names.check_name`.  Uploads in
progress live under *partial* names (``.NAME.TOKEN.partial``) next to their
final name, which listings hide.

A listing comes from a server, and a server may be hostile: an entry whose
name could not be used again on the same target (``..``, a ``/``, NUL, an
empty name) is dropped from the listing, and logged.  Names that are only
awkward — an escape sequence, a newline, rich markup — are kept (they are
escaped wherever they are shown); whether such a file may be *fetched* into
a local folder is for :func:`remote_name_problem` to say.  A size a server
wrote is read by :func:`listed_size`: an entry whose size is not a count of
bytes is left out of its listing, and logged, as a made-up name is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from entrepot.errors import ConfigError, InvalidName
from entrepot.names import check_name

__all__ = [
    "RemoteInfo",
    "is_partial",
    "listable",
    "listed_size",
    "partial_name",
    "remote_name_problem",
    "split_name",
]

PARTIAL_SUFFIX = ".partial"
#: The largest size a server can state (SFTP's and FTP servers' sizes are 64 bits).
MAX_LISTED_SIZE = 2**64 - 1


@dataclass(frozen=True)
class RemoteInfo:
    """What a target knows about one remote entry.

    ``name`` is relative to the target's folder (``"a/b.csv"``); ``checksum``
    is ``"md5:<hex>"`` where the protocol gives one, else None.  ``kept`` is
    True in the answer of an upload that found an identical file there and
    sent nothing (conflict policy ``skip``).  ``version`` is what changes with
    every write of the name where the store says (an S3 ETag), else None.
    """

    name: str
    size: int
    mtime: float | None = None
    checksum: str | None = None
    is_dir: bool = False
    kept: bool = False
    version: str | None = None


def split_name(name: str, *, what: str = "remote name") -> list[str]:
    """The checked components of a remote ``name`` such as ``"a/b.csv"``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what} must be a non-empty string")
    return [check_name(part, what=what) for part in name.split("/")]


def remote_name_problem(name: str) -> str | None:
    """Why the remote file ``name`` must not be fetched into a local folder, or None.

    Fetching code calls this for every listed name and skips (and reports)
    the ones it refuses instead of failing the whole run.  The rules are
    those of :func:`entrepot.names.check_name`, applied to each component.
    """
    try:
        split_name(name, what="remote file name")
    except (InvalidName, ConfigError) as exc:
        return str(exc)
    return None


def listable(base: str) -> bool:
    """True when a listed entry's base name can be named again on the same target."""
    return bool(base) and base not in {".", ".."} and not any(c in base for c in "/\\\x00")


def listed_size(text: object) -> int | None:
    """The size a server wrote (``"1024"``), or None when it is not a count of bytes:
    not ASCII digits (``"abc"``, ``"-7"``, ``"²"``), or over :data:`MAX_LISTED_SIZE`.

    A size up to that bound may still be more than the local side can hold: that
    is for whoever fetches the file to say (it is that file's problem, not the
    listing's)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 <= text <= MAX_LISTED_SIZE else None
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None
    size = int(text)
    return size if size <= MAX_LISTED_SIZE else None


def is_partial(name: str) -> bool:
    """True for the temporary names :meth:`Target.upload` writes before publishing."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith(".") and base.endswith(PARTIAL_SUFFIX)


def partial_name(path: str) -> str:
    """A fresh temporary name next to ``path`` (kept within 255 bytes)."""
    folder, _, base = path.rpartition("/")
    stem = base.encode("utf-8")[:200].decode("utf-8", "ignore")
    tmp = f".{stem}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
    return f"{folder}/{tmp}" if folder else tmp
