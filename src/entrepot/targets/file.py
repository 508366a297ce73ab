"""``file:///path`` — a local (or mounted) folder as a target.

Publishing follows the same rules as the spool: the data is written under a
temporary name, fsynced, renamed into place, and the folder is fsynced so the
rename survives a power cut.  ``durable=false`` skips the fsyncs (faster, for
scratch folders).  The target folder must exist; sub-folders are created.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, ClassVar

from entrepot.durable import fsync_dir
from entrepot.errors import (
    PermissionDenied,
    RemoteNotFound,
    TargetError,
    TransientTargetError,
)
from entrepot.targets.base import Progress, RemoteInfo, Target
from entrepot.targets.url import TargetURL

_CHUNK = 1024 * 1024


class FileTarget(Target):
    """A local folder; see the module docstring."""

    scheme = "file"
    option_types: ClassVar[dict[str, type]] = {"durable": bool}

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        self.root = Path(url.path)
        self.durable: bool = self.options.get("durable", True)

    def _full(self, path: str) -> Path:
        return self.root / path if path else self.root

    def _connect(self) -> None:
        if not self.root.is_dir():
            raise self._error(RemoteNotFound, "no such folder", "")

    def _put(
        self, path: str, src: IO[bytes], size: int, progress: Progress | None
    ) -> RemoteInfo | None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        fd = os.open(self._full(path), flags, 0o644)
        with os.fdopen(fd, "wb") as dst:
            _copy(src, dst, progress)
            if self.durable:
                dst.flush()
                os.fsync(dst.fileno())
        return None

    def _get(self, path: str, dst: IO[bytes], progress: Progress | None) -> None:
        with open(self._full(path), "rb") as src:
            _copy(src, dst, progress)

    def _stat(self, path: str) -> RemoteInfo | None:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        is_dir = os.path.isdir(self._full(path))
        return RemoteInfo(path, 0 if is_dir else st.st_size, st.st_mtime, None, is_dir)

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        prefix = f"{folder}/" if folder else ""
        with os.scandir(self._full(folder)) as entries:
            for entry in entries:
                st = entry.stat()
                is_dir = entry.is_dir()
                size = 0 if is_dir else st.st_size
                yield RemoteInfo(prefix + entry.name, size, st.st_mtime, None, is_dir)

    def _rename(self, src: str, dst: str) -> None:
        final = self._full(dst)
        os.replace(self._full(src), final)
        if self.durable:
            fsync_dir(final.parent)

    def _delete(self, path: str) -> None:
        os.unlink(self._full(path))
        if self.durable:
            fsync_dir(self._full(path).parent)

    def _makedirs(self, folder: str) -> None:
        self._connect()  # never create the target folder itself
        os.makedirs(self._full(folder), exist_ok=True)

    def _translate(self, exc: Exception, path: str) -> TargetError:
        if isinstance(exc, PermissionError):
            return self._error(PermissionDenied, None, path)
        if isinstance(exc, FileNotFoundError | NotADirectoryError):
            return self._error(RemoteNotFound, None, path)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            return self._error(TransientTargetError, exc.strerror, path)
        return super()._translate(exc, path)


def _copy(src: IO[bytes], dst: IO[bytes], progress: Progress | None) -> None:
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        if progress is not None:
            progress(len(chunk))
