"""``file:///path`` — a local (or mounted) folder as a target.

Publishing follows the same rules as the spool: the data is written under a
temporary name, fsynced, renamed into place, and the folder is fsynced so the
rename survives a power cut.  ``durable=false`` skips the fsyncs (faster, for
scratch folders).  The target folder must exist; sub-folders are created.

Symbolic links under the target folder are never followed, neither to write
nor to read: every path is walked from a descriptor of the target folder,
one component at a time, with ``O_NOFOLLOW`` and ``O_DIRECTORY``, and every
operation acts on the last folder's descriptor (``openat``, ``renameat``,
``unlinkat``).  A link swapped in for a sub-folder at any moment cannot lead
a write out of the folder, and a link in the folder is neither listed nor
fetched (a link *to* the target folder itself is fine: that is its name).

Only regular files and folders are listed, and only regular files are read:
a FIFO, a socket or a device in the folder is left out of listings, and
reading one is refused without waiting on it (a FIFO opened for reading
blocks until a writer comes, which may be never).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

from entrepot import durable
from entrepot.errors import PermissionDenied, RemoteNotFound, TargetError, TransientTargetError
from entrepot.logs import log_event
from entrepot.targets.base import Target
from entrepot.targets.info import RemoteInfo
from entrepot.targets.transfer import Progress, copy_stream
from entrepot.targets.url import TargetURL

logger = logging.getLogger(__name__)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class SymlinkRefused(OSError):
    """A path component under the target folder is a symbolic link."""


class FileTarget(Target):
    """A local folder; see the module docstring."""

    scheme = "file"
    option_types: ClassVar[dict[str, type]] = {"durable": bool}

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        self.root = Path(url.path)
        self.durable: bool = self.options.get("durable", True)
        self._root_fd: int | None = None

    def _connect(self) -> None:
        try:
            self._root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise self._error(RemoteNotFound, "no such folder", "") from None

    def _disconnect(self) -> None:
        fd, self._root_fd = self._root_fd, None
        if fd is not None:
            os.close(fd)

    @contextlib.contextmanager
    def _folder(
        self, path: str, *, create: bool = False, whole: bool = False
    ) -> Iterator[tuple[int, str]]:
        """The descriptor of ``path``'s folder (of ``path`` itself if ``whole``) and the
        component left over, walked from the target folder without following a link."""
        if self._root_fd is None:
            raise ConnectionError("not connected")
        parts = path.split("/") if path else []
        base = "" if whole or not parts else parts.pop()
        fd = os.dup(self._root_fd)
        try:
            for part in parts:
                fd = _step(fd, part, create=create)
            yield fd, base
        finally:
            os.close(fd)

    def _sync(self, fd: int) -> None:
        if self.durable:
            os.fsync(fd)

    # -- primitives ------------------------------------------------------------------

    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with self._folder(path) as (folder, base):
            fd = os.open(base, flags, 0o644, dir_fd=folder)
            with os.fdopen(fd, "wb") as dst:
                copy_stream(src.read, dst.write, size=size, progress=progress)
                dst.flush()
                self._sync(dst.fileno())
        return None

    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        with self._folder(path) as (folder, base):
            fd = _open_file(base, folder)
            with os.fdopen(fd, "rb") as src:
                copy_stream(src.read, write, progress=progress)

    def _stat(self, path: str) -> RemoteInfo | None:
        try:
            with self._folder(path) as (folder, base):
                st = os.stat(base or ".", dir_fd=folder, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            raise SymlinkRefused(errno.ELOOP, "a symbolic link, which is not followed", path)
        is_dir = stat.S_ISDIR(st.st_mode)
        return RemoteInfo(path, 0 if is_dir else st.st_size, st.st_mtime, None, is_dir)

    def _skipped(self, event: str, name: str, **details: str) -> None:
        """Log an entry of a listing that is left out of it."""
        log_event(logger, event, logging.WARNING, url=self.url, name=name, **details)

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        prefix = f"{folder}/" if folder else ""
        found = []
        with self._folder(folder, whole=True) as (fd, _), os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_symlink():
                    self._skipped("targets.symlink_skipped", prefix + entry.name)
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed since the folder was read (a consumer took it)
                is_dir = stat.S_ISDIR(st.st_mode)
                if not is_dir and not stat.S_ISREG(st.st_mode):
                    reason = "neither a regular file nor a folder"
                    self._skipped("targets.entry_skipped", prefix + entry.name, reason=reason)
                    continue
                size = 0 if is_dir else st.st_size
                found.append(RemoteInfo(prefix + entry.name, size, st.st_mtime, None, is_dir))
        return found

    def _rename(self, src: str, dst: str) -> None:
        with self._folder(src) as (old, old_base), self._folder(dst) as (new, new_base):
            if stat.S_ISLNK(os.stat(old_base, dir_fd=old, follow_symlinks=False).st_mode):
                raise SymlinkRefused(errno.ELOOP, "a symbolic link, which is not moved", src)
            os.rename(old_base, new_base, src_dir_fd=old, dst_dir_fd=new)
            self._sync(new)
            if src.rpartition("/")[0] != dst.rpartition("/")[0]:
                self._sync(old)

    def _delete(self, path: str) -> None:
        with self._folder(path) as (folder, base):
            os.unlink(base, dir_fd=folder)
            self._sync(folder)

    def _makedirs(self, folder: str) -> None:
        with self._folder(folder, create=True, whole=True):
            pass

    def _translate(self, exc: Exception, path: str) -> TargetError:
        if isinstance(exc, durable.NotRegularFile) and exc.errno != errno.ELOOP:
            message = "not a regular file (a FIFO, a socket or a device), which is not read"
            return self._error(PermissionDenied, message, path)
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
            message = "a symbolic link under the target folder, which is not followed"
            return self._error(PermissionDenied, message, path)
        if isinstance(exc, PermissionError):
            return self._error(PermissionDenied, None, path)
        if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
            return self._error(RemoteNotFound, None, path)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            return self._error(TransientTargetError, exc.strerror, path)
        return super()._translate(exc, path)


def _step(fd: int, name: str, *, create: bool = False) -> int:
    """Open the sub-folder ``name`` of folder ``fd`` without following a link.

    ``fd`` is closed once the sub-folder is open; on failure it stays open.
    """
    while True:
        try:
            found = os.open(name, _FOLDER, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=fd)
            create = False  # made (by us or a racing writer): open it now
            continue
        except NotADirectoryError:
            if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                raise SymlinkRefused(errno.ELOOP, "a symbolic link, not followed", name) from None
            raise
        os.close(fd)
        return found


def _open_file(name: str, folder: int) -> int:
    """Open the regular file ``name`` of ``folder`` for reading, without waiting on a FIFO
    (:class:`~entrepot.durable.NotRegularFile` for anything but a regular file); a link
    is refused (``ELOOP``)."""
    # /proc/self/fd/N is the folder already walked to, not a path walked again: only
    # ``name`` is looked up, and never through a link.
    try:
        return durable.open_regular(f"/proc/self/fd/{folder}/{name}", follow=False)
    except durable.NotRegularFile:
        if stat.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            raise IsADirectoryError(errno.EISDIR, "a folder, not a file", name) from None
        raise
