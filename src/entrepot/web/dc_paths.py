"""Files served by the data center pages: only from the data center's own folders.

A download names an area and a file name, never a path.  The name must be
one harmless path component (:func:`~entrepot.names.check_name`: no ``..``,
separator, NUL, control character or leading dot), the file a regular file
directly in the area's folder — not a symbolic link, not a folder — and the
folder itself the real folder in the root, not a link to elsewhere.  The
file is opened without following a link (``O_NOFOLLOW``) and checked again
on the open descriptor, so a link planted between the check and the open is
refused too.  What is streamed is that descriptor.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal, get_args
from urllib.parse import quote

from entrepot.datacenter.listing import is_csv_name
from entrepot.errors import InvalidName
from entrepot.names import check_name

#: Where files may be downloaded from: the listed areas and the log folder.
DownloadArea = Literal[
    "pending", "finished", "unfinished", "deleted", "graduated", "exports", "logs"
]
DOWNLOAD_AREAS: tuple[DownloadArea, ...] = get_args(DownloadArea)
_BLOCK = 1 << 16
#: Log files and their rotated copies: ``datacenter.log``, ``datacenter.log.1``.
_LOG_NAME = re.compile(r".+\.log(\.[0-9]+)?")


class Refused(Exception):
    """The name or the file is not one the data center serves (the reason says why)."""


class Missing(Exception):
    """No such file in that area."""


def area_folder(root: Path, area: str) -> Path:
    """The folder of ``area`` in the data center ``root`` (``pending`` is the root)."""
    if area not in DOWNLOAD_AREAS:
        raise Refused(f"unknown area {area!r}")
    return root if area == "pending" else root / area


def checked_name(area: str, name: str) -> str:
    """``name`` when it may be served from ``area``; :class:`Refused` otherwise."""
    try:
        check_name(name, what="file name")
    except InvalidName as exc:
        raise Refused(str(exc)) from None
    fits = _LOG_NAME.fullmatch(name) if area == "logs" else is_csv_name(name)
    if not fits:
        raise Refused(f"{name!r} is not a file of {area}/")
    return name


def _real_folder(root: Path, area: str) -> Path:
    folder = area_folder(root, area)
    real_root = root.resolve(strict=True)
    if area == "pending":
        return real_root
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        raise Missing(f"no folder {area}/ in the data center") from None
    if not stat.S_ISDIR(info.st_mode):
        raise Refused(f"{area}/ is not a folder of the data center")
    real = folder.resolve(strict=True)
    if real.parent != real_root:
        raise Refused(f"{area}/ leads out of the data center")
    return real


def open_download(root: Path, area: str, name: str) -> tuple[BinaryIO, int]:
    """Open the file ``name`` of ``area`` for reading; return it and its size.

    Raises :class:`Refused` for a name or file the data center does not
    serve (a link, a folder, anything outside), :class:`Missing` when there
    is no such file.
    """
    checked_name(area, name)
    folder = _real_folder(root, area)
    path = folder / name
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Missing(f"no file {name!r} in {area}/") from None
    except OSError as exc:
        # ELOOP: the name is a symbolic link; anything else the file is not servable.
        raise Refused(f"{name!r} cannot be served: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{name!r} is not a regular file")
        if info.st_nlink > 1:
            # A hard link may be a file from elsewhere (planted in the folder).
            raise Refused(f"{name!r} has other names outside the data center's control")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    # Owned by the file object from here on (see entrepot.spool.areas.open_entry).
    return os.fdopen(fd, "rb"), info.st_size


def stream(handle: BinaryIO) -> Iterator[bytes]:
    """The bytes of ``handle`` in blocks; it is closed at the end (or when abandoned)."""
    with handle:
        while block := handle.read(_BLOCK):
            yield block


def media_type(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".gz"):
        return "application/gzip"
    if lower.endswith(".csv"):
        return "text/csv; charset=utf-8"
    return "text/plain; charset=utf-8"


def attachment(name: str) -> str:
    """A ``Content-Disposition`` value for ``name``: an ASCII fallback and the UTF-8 name."""
    fallback = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


__all__ = [
    "DOWNLOAD_AREAS",
    "DownloadArea",
    "Missing",
    "Refused",
    "area_folder",
    "attachment",
    "checked_name",
    "media_type",
    "open_download",
    "stream",
]
