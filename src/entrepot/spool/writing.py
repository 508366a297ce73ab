"""Writing into a spool: files written in ``tmp/`` and published into an area.

Every way in — a file handed to a producer (:class:`SpoolWriter`), bytes,
a copy or hard link of a local file, a :class:`Batch` of many — writes a
fresh ``tmp/`` file (created exclusively: nothing there is written
through), makes it durable, and publishes it with
:meth:`~entrepot.spool.areas.Areas.publish`.  A source file is opened
without following a link and must be a regular file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from entrepot.durable import fsync_dir, syncfs, write_file
from entrepot.errors import NameExists, UnsafeEntry
from entrepot.logs import log_event
from entrepot.spool.areas import Areas, open_entry, spool_name
from entrepot.spool.naming import unique_name

if TYPE_CHECKING:
    from entrepot.spool.receipts import Receipts

logger = logging.getLogger("entrepot.spool")


class Digest(Protocol):
    """What a :mod:`hashlib` object offers: fed the bytes a copy moves."""

    def update(self, data: bytes, /) -> None: ...


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1024 * 1024


class SpoolWriter:
    """The file handed out by :meth:`Spool.writer`: write bytes, it is published on exit."""

    def __init__(
        self, file: BinaryIO, name: str, tmp_path: Path, digest: Digest | None = None
    ) -> None:
        self._file = file
        self._digest = digest
        self.name = name
        self.tmp_path = tmp_path
        #: Where the file was published, set once the ``with`` block succeeded.
        self.path: Path | None = None

    def write(self, data: bytes) -> int:
        if self._digest is not None:
            self._digest.update(data)
        return self._file.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._file.flush()

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()


@contextmanager
def writing(
    areas: Areas, name: str | None, area: str, digest: Digest | None = None
) -> Iterator[SpoolWriter]:
    """A :class:`SpoolWriter` published into ``area`` when the block succeeds; ``digest``
    sees what is written."""
    final = spool_name(name) if name is not None else unique_name()
    areas.folder(area)  # check the area's name before writing anything
    tmp_path = areas.scratch()
    file = os.fdopen(os.open(tmp_path, _CREATE, 0o644), "wb")
    handle = SpoolWriter(file, final, Path(tmp_path), digest)
    try:
        yield handle
        file.flush()
        if areas.durable:
            os.fsync(file.fileno())
        file.close()
        handle.path = Path(areas.publish(tmp_path, final, area))
    except BaseException:
        file.close()
        _unlink(tmp_path)
        raise


def publish_bytes(areas: Areas, data: bytes, name: str | None, area: str) -> str:
    """Publish ``data`` as a new file in ``area``; return its name."""
    final = spool_name(name) if name is not None else unique_name()
    areas.folder(area)
    tmp_path = areas.scratch()
    try:
        write_file(tmp_path, data, durable=areas.durable)
        areas.publish(tmp_path, final, area)
    except BaseException:
        _unlink(tmp_path)
        raise
    return final


def publish_file(
    areas: Areas,
    source: str | os.PathLike[str],
    name: str | None,
    *,
    link: bool,
    area: str,
    digest: Digest | None = None,
) -> str:
    """Publish a copy of (or a hard link to) the regular file ``source``; return its name.

    ``digest`` (a :mod:`hashlib` object) is fed the bytes as they are copied
    (a link copies nothing: it is left as it was)."""
    final = spool_name(name if name is not None else os.path.basename(os.fspath(source)))
    areas.folder(area)
    tmp_path = areas.scratch()
    try:
        if link:
            link_into(source, tmp_path)
            if areas.durable:
                _fsync_file(tmp_path)
        else:
            copy_into(source, tmp_path, durable=areas.durable, digest=digest)
        areas.publish(tmp_path, final, area)
    except BaseException:
        _unlink(tmp_path)
        raise
    return final


def copy_into(
    source: str | os.PathLike[str], tmp_path: str, *, durable: bool, digest: Digest | None = None
) -> None:
    """Copy the regular file ``source`` (never through a link) into a new ``tmp_path``,
    synced to disk before it is closed when ``durable``; ``digest`` sees every byte."""
    with open_entry(source, what="source file") as src:
        fd = os.open(tmp_path, _CREATE, 0o644)
        with os.fdopen(fd, "wb") as dst:
            if digest is None:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
            else:
                while chunk := src.read(_COPY_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
            if durable:
                # Synced through this descriptor: no second open of the file to sync it.
                dst.flush()
                os.fsync(fd)


def link_into(source: str | os.PathLike[str], tmp_path: str) -> None:
    """Hard-link ``source`` as ``tmp_path``; a link or special file is refused."""
    os.link(source, tmp_path, follow_symlinks=False)
    mode = os.lstat(tmp_path).st_mode
    if not stat.S_ISREG(mode):
        os.unlink(tmp_path)
        what = "is a symbolic link" if stat.S_ISLNK(mode) else "is not a regular file"
        raise UnsafeEntry(f"source file {os.fspath(source)!r} {what}: refused")


class Batch:
    """Files collected by :meth:`Spool.batch`, published together on :meth:`commit`."""

    def __init__(
        self, areas: Areas, receipts: Receipts | None = None, root: Path | None = None
    ) -> None:
        self.areas = areas
        self.receipts = receipts
        self.root = root
        self._pending: list[tuple[str, str]] = []
        #: Per temporary file: its digest and source, for its receipt.
        self._origin: dict[str, tuple[Digest | None, str]] = {}
        self.names: list[str] = []

    def add_bytes(self, data: bytes, name: str | None = None) -> str:
        """Add a file holding ``data``; return its final name."""
        final = spool_name(name) if name is not None else unique_name()
        tmp_path = self.areas.scratch()
        write_file(tmp_path, data, durable=False)
        self._pending.append((tmp_path, final))
        if self.receipts is not None:
            digest = self.receipts.digest()
            digest.update(data)
            self._origin[tmp_path] = (digest, "batch")
        return final

    def add_file(self, source: str | os.PathLike[str], name: str | None = None) -> str:
        """Add a copy of the regular file ``source``; return its final name."""
        final = spool_name(name if name is not None else os.path.basename(os.fspath(source)))
        tmp_path = self.areas.scratch()
        digest = self.receipts.digest() if self.receipts is not None else None
        try:
            # commit() syncs them all at once
            copy_into(source, tmp_path, durable=False, digest=digest)
        except BaseException:
            _unlink(tmp_path)
            raise
        self._pending.append((tmp_path, final))
        if self.receipts is not None:
            self._origin[tmp_path] = (digest, os.path.abspath(source))
        return final

    def discard(self) -> None:
        """Remove every file added so far; nothing is published."""
        for tmp_path, _ in self._pending:
            _unlink(tmp_path)
        self._pending.clear()
        self._origin.clear()

    def commit(self) -> list[str]:
        """Make the files durable with one flush, then publish them all into ``new/``.

        The folder is synced once at the end, not once per file.
        """
        areas = self.areas
        if areas.durable and self._pending:
            syncfs(areas.folder("tmp"))
        taken = []
        try:
            for tmp_path, name in self._pending:
                try:
                    areas.publish(tmp_path, name, "new", sync=False)
                except NameExists:
                    _unlink(tmp_path)
                    taken.append(name)
                    continue
                self.names.append(name)
                self._received(tmp_path, name)
        finally:
            self._pending.clear()
            self._origin.clear()
        if areas.durable and self.names:
            fsync_dir(areas.folder("new"))
        log_event(logger, "spool.batch_published", logging.DEBUG, files=len(self.names))
        if taken:
            raise NameExists(f"already in new/, not published: {', '.join(map(repr, taken))}")
        return self.names

    def _received(self, tmp_path: str, name: str) -> None:
        if self.receipts is not None and self.root is not None:
            digest, source = self._origin[tmp_path]
            self.receipts.received(self.root, str(self.root / "new" / name), digest, source)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
