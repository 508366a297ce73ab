"""File system primitives for crash-safe writes, shared by every local store.

Writing durably means: write the data, ``fsync`` the file, rename it into
place, then ``fsync`` the folder so that the rename itself survives a power
cut.  The spool, the archive writer and the ``file://`` target all build on
these few functions, so the rules live in one place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_AT_FDCWD = -100
_FS_ENCODING = sys.getfilesystemencoding()
_RENAME_NOREPLACE = 1

# The symbols the interpreter itself was linked with (the C library among them):
# looking the library up by name (ctypes.util) runs ldconfig in a subprocess.
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
_syncfs = getattr(_libc, "syncfs", None)
# Set to False the first time the kernel or file system says it cannot do
# RENAME_NOREPLACE, so later calls go straight to the link/unlink fallback.
_noreplace_supported = _renameat2 is not None


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of folder ``path`` (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(path: str | os.PathLike[str]) -> None:
    """Flush every dirty page of the file system holding ``path`` in one call.

    Falls back to :func:`os.sync` where ``syncfs(2)`` is missing.
    """
    if _syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def _encode(path: str | os.PathLike[str]) -> bytes:
    # The common case (a str) without os.fsencode's extra checks: this is a hot path.
    if type(path) is str:
        return path.encode(_FS_ENCODING, "surrogateescape")
    return os.fsencode(path)


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst`` atomically, failing with FileExistsError if ``dst`` exists.

    Uses ``renameat2(RENAME_NOREPLACE)`` where the kernel and file system
    support it; otherwise a hard link followed by an unlink, which is also
    refused when ``dst`` exists (a crash between the two leaves two names for
    one complete file, never a partial one).
    """
    global _noreplace_supported
    if _noreplace_supported:
        assert _renameat2 is not None
        rc = _renameat2(_AT_FDCWD, _encode(src), _AT_FDCWD, _encode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), os.fspath(src), None, os.fspath(dst))
        _noreplace_supported = False
    os.link(src, dst)
    os.unlink(src)


def write_file(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    """Create ``path`` exclusively with ``data``; fsync it when ``durable``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        written = os.write(fd, data)
        if written < len(data):  # short writes are rare: finish them without copying
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path, *, durable: bool = True, replace: bool = False) -> None:
    """Rename a complete ``tmp`` file to ``final`` and make the rename durable.

    With ``replace=False`` an existing ``final`` raises FileExistsError and
    ``tmp`` is left in place for the caller to clean up.
    """
    if replace:
        os.replace(tmp, final)
    else:
        rename_noreplace(tmp, final)
    if durable:
        fsync_dir(final.parent)


def create_fresh(path: str | os.PathLike[str]) -> int:
    """A new, empty file at ``path``, open for writing (its descriptor): whatever was
    there — a file a crash left, a symbolic link someone planted — is removed first,
    never written through."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)


class NotRegularFile(OSError):
    """What :func:`open_regular` found is not a regular file: :attr:`what` it is."""

    @property
    def what(self) -> str:
        """``is a symbolic link`` or ``is not a regular file``, to follow a name."""
        return "is a symbolic link" if self.errno == errno.ELOOP else "is not a regular file"


def open_regular(
    path: str | os.PathLike[str],
    flags: int = os.O_RDONLY,
    *,
    follow: bool = True,
    dir_fd: int | None = None,
) -> int:
    """A descriptor of the regular file at ``path``, opened with ``flags``: never blocked
    by a FIFO left under its name (opened without waiting, then checked), and never
    through a symbolic link unless ``follow``.  :class:`NotRegularFile` for anything
    else (a link not followed, a FIFO, a device, a folder).  ``dir_fd``: ``path`` is
    relative to that open folder."""
    flags |= os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise NotRegularFile(errno.ELOOP, "a symbolic link", os.fspath(path)) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)  # O_NONBLOCK was only there to open a FIFO safely
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write the file ``path`` under a temporary name beside it, synced, then renamed over
    ``path``: a reader, or a crash or a full disk half-way, finds the old file whole or
    the new one, never part of it.  A temporary file a crash left is replaced, and a
    symbolic link at either name is replaced, never written through.  The new file keeps
    the permissions of the file it replaces (one kept private stays private)."""
    final = Path(path)
    tmp = final.with_name(f".{final.name}.tmp")
    fd = create_fresh(tmp)
    try:
        with contextlib.suppress(FileNotFoundError):
            before = os.lstat(final)
            if stat.S_ISREG(before.st_mode):
                os.fchmod(fd, stat.S_IMODE(before.st_mode))
        with open(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(final.parent)


@contextlib.contextmanager
def replacing_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[IO[str]]:
    """:func:`replacing`, written as text (newlines as given)."""
    with replacing(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            yield text
        finally:
            text.detach()  # flushed: the bytes go back to the file, synced by replacing()


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is to be written into as it is, never replaced by a file: it
    already is something else than a regular file, links followed (a pipe, a terminal,
    ``/dev/null``), or it is a name of ``/dev`` or ``/proc`` — ``/dev/stdout`` is a link
    to the shell's redirection even when that is a regular file."""
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def output_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Where a command writes the file it was asked for: replaced whole
    (:func:`replacing_text`) — unless ``path`` already is something else than a regular
    file (``/dev/stdout``, a pipe, a terminal, ``/dev/null``, or a link to one), which
    is written into as it is: replacing it would put a file where it was."""
    if not is_stream(path):
        with replacing_text(path, encoding) as out:
            yield out
        return
    with open(path, "w", encoding=encoding, newline="") as out:
        yield out
