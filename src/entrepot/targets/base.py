"""The small :class:`Target` interface, and the public API built once above it.

A backend implements a handful of primitives on paths relative to the
target's folder (``"a/b.csv"``): ``_put``, ``_get``, ``_stat``, ``_list``,
``_rename``, ``_delete`` and ``_makedirs``, plus the connection hooks of
:class:`~entrepot.targets.connection.Connection` (``_connect``,
``_disconnect``, ``_abort``, ``_translate``).  Primitives move data through
:func:`entrepot.targets.transfer.copy_stream` and report every block to the
progress callback they are given, which also keeps the call's deadline
alive.

Above them, once for every backend: atomic publish, verification and
conflict policies (:mod:`entrepot.targets.publish`); the connection guard
— deadlines, error translation, one transparent reconnect
(:mod:`entrepot.targets.connection`); name checks; listings that hide
temporary uploads and drop names a hostile server made up.

A target is used by one thread at a time and keeps its connection open
between calls; run transfers in parallel with several targets
(:mod:`entrepot.targets.parallel`).
"""

from __future__ import annotations

import builtins
import io
import logging
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, ClassVar

from entrepot import durable
from entrepot.errors import RemoteNotFound, VerificationFailed
from entrepot.logs import log_event
from entrepot.targets.connection import Connection
from entrepot.targets.info import PARTIAL_SUFFIX, RemoteInfo, is_partial, listable, split_name
from entrepot.targets.publish import Conflict, Verify, publish
from entrepot.targets.tap import Tap
from entrepot.targets.transfer import Hasher, Progress

logger = logging.getLogger(__name__)


class Target(Connection, ABC):
    """A place files are delivered to and read back from.  See the module docstring."""

    #: True when ``_put`` itself publishes atomically (no temporary name needed).
    atomic_put: ClassVar[bool] = False
    #: True when ``_put`` returns the size the server holds after the write,
    #: asked over the same connection: as good as a fresh stat to verify.
    put_reports_size: ClassVar[bool] = False

    # -- primitives a backend implements ----------------------------------------

    @abstractmethod
    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        """Write ``src`` (``size`` bytes, from its current position) to ``path``.

        A backend whose protocol acknowledges the write with a checksum (an S3
        ETag) returns the resulting info, which spares verification a ``_stat``.
        """

    @abstractmethod
    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        """Pass the content of the remote file ``path`` to ``write``, block by block."""

    @abstractmethod
    def _stat(self, path: str) -> RemoteInfo | None:
        """Information on ``path``, or None when it does not exist."""

    @abstractmethod
    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        """Every entry of ``folder`` ("" is the target folder); RemoteNotFound if missing."""

    @abstractmethod
    def _rename(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst``, replacing ``dst`` if it exists."""

    @abstractmethod
    def _delete(self, path: str) -> None:
        """Delete the file ``path``; RemoteNotFound if it does not exist."""

    @abstractmethod
    def _makedirs(self, folder: str) -> None:
        """Create ``folder`` and its parents under the target folder; fine if they exist."""

    # -- one version of a file (a fetch pins what it listed) ---------------------------

    def _get_version(
        self, path: str, write: Callable[[bytes], object], progress: Progress, version: str
    ) -> None:
        """Like ``_get``, refused (RemoteNotFound) unless ``path`` is at ``version``.

        A protocol without conditional reads relies on the stat that
        :meth:`download` makes just before: a write in between goes unseen.
        """
        self._get(path, write, progress)

    def _delete_version(self, path: str, version: str) -> None:
        """Like ``_delete``, refused (RemoteNotFound) unless ``path`` is at ``version``.

        Without conditional deletes: a stat, then the delete; a write between
        the two is lost.
        """
        info = self._stat(path)
        if info is None or info.version != version:
            raise self._error(RemoteNotFound, changed_since(version), path)
        self._delete(path)

    # -- conditional writes (conflict policy "exclusive"; :mod:`.exclusive`) -----------

    def _conditional_writes(self) -> bool:
        """True when :meth:`_put_if_absent` is refused atomically by the server on a taken
        name; otherwise the ``exclusive`` policy checks the name after writing."""
        return False

    def _put_if_absent(
        self, path: str, src: IO[bytes], size: int, progress: Progress
    ) -> RemoteInfo | None:
        """Like ``_put``, refused (RemoteExists) when ``path`` exists; see above."""
        raise NotImplementedError(f"{type(self).__name__} has no conditional writes")

    # -- the public API ------------------------------------------------------------

    def upload(
        self,
        local: str | os.PathLike[str],
        name: str,
        *,
        conflict: Conflict = "replace",
        verify: Verify = True,
        progress: Progress | None = None,
        tap: Tap | None = None,
    ) -> RemoteInfo:
        """Publish the local file under ``name``; return what was written (or kept).

        ``tap``: hashes the file as the upload reads it (:mod:`.tap`).
        """
        path = "/".join(split_name(name))
        with open(local, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            stream = src if tap is None else tap.wrap(src, 0)  # just opened
            # A check reads the local file past the tap: what it hashes is what was sent.
            return publish(self, stream, size, path, conflict, verify, progress, src)

    def upload_bytes(
        self, data: bytes, name: str, *, conflict: Conflict = "replace", verify: Verify = True
    ) -> RemoteInfo:
        """Publish ``data`` under ``name``, atomically like :meth:`upload`."""
        path = "/".join(split_name(name))
        return publish(self, io.BytesIO(data), len(data), path, conflict, verify, None)

    def download(
        self,
        name: str,
        local: str | os.PathLike[str],
        *,
        durable_write: bool = True,
        sync_folder: bool = True,
        digest: Callable[[], Hasher] | None = None,
        version: str | None = None,
    ) -> RemoteInfo:
        """Copy remote ``name`` to ``local``, written under a temporary name and renamed.

        ``sync_folder=False`` leaves the folder's sync to a caller that moves the
        file on at once (the data itself is synced with ``durable_write``).
        ``digest`` (such as :func:`hashlib.sha256`) is called for a fresh digest at
        each try of the transfer, fed the bytes as they are written: the last one
        it made holds the file's checksum, with no second read of the file.
        ``version`` (:attr:`RemoteInfo.version`, as listed): that version or
        nothing — RemoteNotFound when the file was written again since.
        """
        path = "/".join(split_name(name))
        info = self.stat(path)
        if info is None or info.is_dir:
            raise self._error(RemoteNotFound, None, path)
        if version is not None and info.version != version:
            raise self._error(RemoteNotFound, changed_since(version), path)
        final = Path(local)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            with open(tmp, "wb") as dst:
                self._call(path, self._get_into, path, dst, digest, version)
                size = dst.tell()
                if durable_write:
                    dst.flush()
                    os.fsync(dst.fileno())
            if size != info.size:
                message = f"downloaded {size} bytes, remote size is {info.size}"
                raise self._error(VerificationFailed, message, path)
            durable.publish(tmp, final, durable=durable_write and sync_folder, replace=True)
        finally:
            tmp.unlink(missing_ok=True)
        log_event(logger, "targets.downloaded", logging.INFO, url=self.url, name=path, size=size)
        return info

    def _get_into(
        self,
        path: str,
        dst: IO[bytes],
        digest: Callable[[], Hasher] | None = None,
        version: str | None = None,
    ) -> None:
        # From the start again: a reconnected retry must not append to half a file.
        dst.seek(0)
        dst.truncate()
        write: Callable[[bytes], object] = dst.write
        if digest is not None:
            fresh = digest()

            def write(data: bytes) -> None:
                fresh.update(data)
                dst.write(data)

        if version is None:
            self._get(path, write, self._progress(None))
        else:
            self._get_version(path, write, self._progress(None), version)

    def read_bytes(self, name: str) -> bytes:
        """The content of the remote file ``name`` (for small files)."""
        path = "/".join(split_name(name))
        buffer = io.BytesIO()
        self._call(path, self._get_into, path, buffer)
        return buffer.getvalue()

    def stat(self, name: str) -> RemoteInfo | None:
        """Information on ``name``, or None when it does not exist."""
        path = "/".join(split_name(name))
        return self._call(path, self._stat, path)

    def exists(self, name: str) -> bool:
        return self.stat(name) is not None

    def list(self, folder: str = "") -> builtins.list[RemoteInfo]:
        """The entries of ``folder``, sorted by name; temporary upload names are hidden."""
        entries = self._listing(folder)
        return sorted((e for e in entries if not is_partial(e.name)), key=lambda e: e.name)

    def _listing(self, folder: str) -> builtins.list[RemoteInfo]:
        """Every usable entry of ``folder``; names a server made up are dropped and logged."""
        path = "/".join(split_name(folder, what="folder")) if folder else ""
        prefix = f"{path}/" if path else ""
        found = []
        for entry in self._call(path, lambda: builtins.list(self._list(path))):
            base = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if listable(base):
                found.append(entry)
            else:
                log_event(
                    logger, "targets.entry_skipped", logging.WARNING, url=self.url, name=entry.name
                )
        return found

    def remove_partials(
        self, folder: str = "", *, older_than: float = 3600.0
    ) -> builtins.list[str]:
        """Delete temporary upload names left in ``folder`` by uploads that died.

        Only those last modified more than ``older_than`` seconds ago, so that
        uploads still running are left alone.  Returns the names removed.
        """
        limit = time.time() - older_than
        removed = []
        for entry in self._listing(folder):
            if is_partial(entry.name) and entry.mtime is not None and entry.mtime <= limit:
                self._call(entry.name, self._delete, entry.name)
                removed.append(entry.name)
        if removed:
            log_event(
                logger, "targets.partials_removed", logging.INFO, url=self.url, count=len(removed)
            )
        return removed

    def delete(self, name: str, *, missing_ok: bool = False, version: str | None = None) -> None:
        """Delete ``name``; ``version``: only that version of it (:meth:`_delete_version`),
        else RemoteNotFound — a file written again since is kept."""
        path = "/".join(split_name(name))
        try:
            if version is None:
                self._call(path, self._delete, path)
            else:
                self._call(path, self._delete_version, path, version)
        except RemoteNotFound:
            if not missing_ok:
                raise
        log_event(logger, "targets.deleted", logging.INFO, url=self.url, name=path)

    def rename(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` (replacing ``dst``)."""
        old = "/".join(split_name(src))
        new = "/".join(split_name(dst))
        folder = new.rpartition("/")[0]
        if folder:
            self._ensure_folder(folder)
        self._call(old, self._rename, old, new)
        log_event(logger, "targets.renamed", logging.INFO, url=self.url, name=old, to=new)

    def makedirs(self, folder: str) -> None:
        """Create ``folder`` (and its parents) under the target folder."""
        path = "/".join(split_name(folder, what="folder"))
        self._call(path, self._makedirs, path)
        self._folders.add(path)

    def _ensure_folder(self, folder: str) -> None:
        if folder not in self._folders:
            self._call(folder, self._makedirs, folder)
            self._folders.add(folder)


def changed_since(version: str) -> str:
    """Why a read or delete pinned to ``version`` was refused."""
    return f"not at version {version} any more: written again since it was listed"
