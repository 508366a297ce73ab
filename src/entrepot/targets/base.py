"""The small :class:`Target` interface and everything built once above it.

A backend implements a handful of primitives on paths relative to the
target's folder (``"a/b.csv"``): ``_connect``/``_disconnect``, ``_put``,
``_get``, ``_stat``, ``_list``, ``_rename``, ``_delete``, ``_makedirs`` and
``_translate`` (its own exceptions into :mod:`entrepot.errors`).  This module
turns them into the public API every target shares:

* **atomic publish** — :meth:`Target.upload` writes under a temporary
  ``.NAME.TOKEN.partial`` name in the same folder and renames it into place,
  so a reader never sees a partial file under the final name (backends whose
  single write is already atomic, like S3, set ``atomic_put``);
* **verification** — the size always, a checksum where the protocol gives
  one, or the whole content read back with ``verify="content"``;
* **conflict policies** — ``replace``, ``skip`` (identical size and checksum),
  ``fail`` (:class:`~entrepot.errors.RemoteExists`) and ``rename``;
* **error translation** with the URL (password masked), host, port and path,
  and one transparent reconnect when a reused connection turns out dead.

A target is used by one thread at a time and keeps its connection open
between calls; run transfers in parallel with several targets
(:func:`entrepot.targets.upload_many`).
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Literal, TypeVar, cast

from entrepot import durable
from entrepot.errors import (
    ConfigError,
    ConnectionFailed,
    RemoteExists,
    RemoteNotFound,
    TargetError,
    TargetTimeout,
    VerificationFailed,
)
from entrepot.logs import log_event
from entrepot.targets.info import (
    _PARTIAL_SUFFIX,
    HashingSink,
    RemoteInfo,
    is_partial,
    md5_like,
    partial_name,
    split_name,
)
from entrepot.targets.url import TargetURL, coerce, resolve_secret

__all__ = [
    "CONFLICT_POLICIES",
    "Conflict",
    "Progress",
    "RemoteInfo",
    "Target",
    "Verify",
    "is_partial",
    "partial_name",
    "split_name",
]

logger = logging.getLogger(__name__)

#: Called with the number of bytes moved since the previous call.
Progress = Callable[[int], None]
Conflict = Literal["replace", "skip", "fail", "rename"]
Verify = bool | Literal["size", "content"]
CONFLICT_POLICIES = ("replace", "skip", "fail", "rename")
_T = TypeVar("_T")
_CHUNK = 1024 * 1024


class Target(ABC):
    """A place files are delivered to and read back from.  See the module docstring."""

    scheme: ClassVar[str] = ""
    #: True when ``_put`` itself publishes atomically (no temporary name needed).
    atomic_put: ClassVar[bool] = False
    #: True when ``_put`` returns the size the server holds after the write,
    #: asked over the same connection: as good as a fresh stat to verify.
    put_reports_size: ClassVar[bool] = False
    #: Extra options a backend accepts (name → type), beyond the common ones.
    option_types: ClassVar[dict[str, type]] = {}
    _common_options: ClassVar[dict[str, type]] = {
        "timeout": float,
        "reconnect": bool,
        "password": str,
        "password_env": str,
        "password_file": str,
    }

    def __init__(self, url: TargetURL, **options: Any) -> None:
        merged: dict[str, Any] = {**url.options(), **options}
        known = self._common_options | self.option_types
        unknown = sorted(set(merged) - set(known))
        if unknown:
            raise ConfigError(f"{url.scheme} target: unknown option(s) {', '.join(unknown)}")
        values = {key: coerce(key, value, known[key]) for key, value in merged.items()}
        self.target_url = url
        self.timeout: float = values.pop("timeout", None) or 30.0
        self.reconnect: bool = values.pop("reconnect", True)
        self.password = resolve_secret(
            "password",
            values.pop("password", None),
            env=values.pop("password_env", None),
            file=values.pop("password_file", None),
            fallback=url.password,
        )
        self.options: dict[str, Any] = values
        self._connected = False
        #: Connections made so far: tells whether a call had to reconnect.
        self._connections = 0
        self._folders: set[str] = set()

    # -- primitives a backend implements ----------------------------------------

    def _connect(self) -> None:  # noqa: B027 - a connection-less backend needs nothing
        """Open the connection (and check the target folder exists)."""

    def _disconnect(self) -> None:  # noqa: B027
        """Close the connection; may be called on a broken one."""

    @abstractmethod
    def _put(
        self, path: str, src: IO[bytes], size: int, progress: Progress | None
    ) -> RemoteInfo | None:
        """Write ``src`` (``size`` bytes, from its current position) to ``path``.

        A backend whose protocol acknowledges the write with a checksum (an S3
        ETag) returns the resulting info, which spares verification a ``_stat``.
        """

    @abstractmethod
    def _get(self, path: str, dst: IO[bytes], progress: Progress | None) -> None:
        """Copy the remote file ``path`` into ``dst``."""

    @abstractmethod
    def _stat(self, path: str) -> RemoteInfo | None:
        """Information on ``path``, or None when it does not exist."""

    @abstractmethod
    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        """The entries of ``folder`` ("" is the target folder); RemoteNotFound if missing."""

    @abstractmethod
    def _rename(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst``, replacing ``dst`` if it exists."""

    @abstractmethod
    def _delete(self, path: str) -> None:
        """Delete the file ``path``; RemoteNotFound if it does not exist."""

    @abstractmethod
    def _makedirs(self, folder: str) -> None:
        """Create ``folder`` and its parents under the target folder; fine if they exist."""

    def _translate(self, exc: Exception, path: str) -> TargetError:
        """Turn a backend exception into our error tree (backends extend this)."""
        if isinstance(exc, TimeoutError):
            return self._error(TargetTimeout, f"timed out after {self.timeout:g} s", path)
        if isinstance(exc, ConnectionError | EOFError):
            return self._error(ConnectionFailed, f"connection failed: {exc}", path)
        if isinstance(exc, FileNotFoundError):
            return self._error(RemoteNotFound, None, path)
        if isinstance(exc, OSError):
            return self._error(
                ConnectionFailed, f"{type(exc).__name__}: {exc.strerror or exc}", path
            )
        return self._error(TargetError, f"{type(exc).__name__}: {exc}", path)

    # -- identity ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL to show: the password masked."""
        return self.target_url.display

    @property
    def host(self) -> str | None:
        return self.target_url.host or None

    @property
    def port(self) -> int | None:
        return self.target_url.port

    def remote_path(self, path: str) -> str:
        """The full remote path of ``path`` (for messages)."""
        root = self.target_url.path
        return f"{root.rstrip('/')}/{path}" if path else (root or "/")

    def _error(self, cls: type[TargetError], message: str | None, path: str) -> TargetError:
        return cls(
            message,
            url=self.url,
            host=self.host,
            port=self.port,
            path=self.remote_path(path),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- connection ----------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (otherwise the first call opens it)."""
        self._ensure_connected()

    def close(self) -> None:
        """Close the connection; the target reconnects if used again."""
        if self._connected:
            self._connected = False
            self._folders.clear()
            try:
                self._disconnect()
            except Exception as exc:  # noqa: BLE001 - closing a broken connection may fail
                log_event(logger, "targets.close_failed", logging.DEBUG, url=self.url, error=exc)

    def __enter__(self) -> Target:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ensure_connected(self) -> bool:
        if self._connected:
            return False
        self._guard("", self._connect)
        self._connected = True
        self._connections += 1
        log_event(logger, "targets.connected", logging.DEBUG, url=self.url)
        return True

    def _guard(self, path: str, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return fn(*args)
        except TargetError as exc:
            if exc.transient:
                self.close()
            raise
        except Exception as exc:
            error = self._translate(exc, path)
            if error.transient:
                # The connection's state is unknown after a timeout or a drop.
                self.close()
            raise error from exc

    def _call(self, path: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a primitive, reconnecting once if a reused connection was dead."""
        fresh = self._ensure_connected()
        try:
            return self._guard(path, fn, *args)
        except ConnectionFailed:
            if fresh or not self.reconnect:
                raise
            step = getattr(fn, "__name__", "").lstrip("_")
            log_event(logger, "targets.reconnecting", logging.INFO, url=self.url, step=step)
            self._ensure_connected()
            return self._guard(path, fn, *args)

    # -- the public API ------------------------------------------------------------

    def upload(
        self,
        local: str | os.PathLike[str],
        name: str,
        *,
        conflict: Conflict = "replace",
        verify: Verify = True,
        progress: Progress | None = None,
    ) -> RemoteInfo:
        """Publish the local file under ``name``; return what was written (or kept)."""
        with open(local, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            return self._upload(src, size, name, conflict, verify, progress)

    def upload_bytes(
        self,
        data: bytes,
        name: str,
        *,
        conflict: Conflict = "replace",
        verify: Verify = True,
    ) -> RemoteInfo:
        """Publish ``data`` under ``name``, atomically like :meth:`upload`."""
        import io

        return self._upload(io.BytesIO(data), len(data), name, conflict, verify, None)

    def _upload(
        self,
        src: IO[bytes],
        size: int,
        name: str,
        conflict: Conflict,
        verify: Verify,
        progress: Progress | None,
    ) -> RemoteInfo:
        if conflict not in CONFLICT_POLICIES:
            raise ConfigError(f"conflict policy must be one of {', '.join(CONFLICT_POLICIES)}")
        path = "/".join(split_name(name))
        if conflict != "replace":
            existing = self._call(path, self._stat, path)
            if existing is not None:
                if conflict == "skip" and self._identical(existing, src, size):
                    log_event(logger, "targets.skipped", logging.INFO, url=self.url, name=path)
                    return existing
                if conflict == "fail":
                    raise self._error(RemoteExists, None, path)
                if conflict == "rename":
                    path = self._free_name(path)
        folder = path.rpartition("/")[0]
        if folder:
            self._ensure_folder(folder)
        # Each attempt writes a temporary name of its own (see _put_from).
        partials: list[str] = []
        start = src.tell()
        try:
            acknowledged = self._call(
                path, self._put_from, path, partials, src, start, size, progress
            )
            dest = partials[-1] if partials else path
            info = None
            if verify:
                info = self._verify(dest, src, start, size, verify, acknowledged)
            if dest != path:
                self._rename_into_place(dest, path, size)
        except BaseException:
            for partial in partials:
                self._discard(partial)
            raise
        for partial in partials[:-1]:
            # Written by a connection that died: gone, or garbage to remove.
            self._discard(partial)
        log_event(logger, "targets.uploaded", logging.INFO, url=self.url, name=path, size=size)
        if info is None:
            return RemoteInfo(path, size, time.time())
        return replace(info, name=path)

    def _rename_into_place(self, dest: str, path: str, size: int) -> None:
        """Rename ``dest`` to ``path``, also when a lost connection hid that it did."""
        before = self._connections
        try:
            self._call(path, self._rename, dest, path)
        except RemoteNotFound:
            # Tried again on a new connection: the first try may have renamed
            # the file before its reply was lost with the old connection.
            if self._connections == before:
                raise
            done = self._call(path, self._stat, path)
            if done is None or done.size != size or self._call(dest, self._stat, dest):
                raise
            log_event(logger, "targets.rename_found_done", logging.INFO, url=self.url, name=path)

    def _put_from(
        self,
        path: str,
        partials: list[str],
        src: IO[bytes],
        start: int,
        size: int,
        progress: Progress | None,
    ) -> RemoteInfo | None:
        """Write ``path``, or a fresh temporary name next to it (added to ``partials``).

        A retried put starts again from the beginning, under a name of its
        own: requests of a dead connection that the server carries out late
        (a truncation, a last write) cannot touch it.
        """
        src.seek(start)
        dest = path
        if not self.atomic_put:
            dest = partial_name(path)
            partials.append(dest)
        return self._put(dest, src, size, progress)

    def _verify(
        self,
        dest: str,
        src: IO[bytes],
        start: int,
        size: int,
        verify: Verify,
        acknowledged: RemoteInfo | None = None,
    ) -> RemoteInfo:
        # A checksum in the write's own acknowledgement is as good as a fresh stat.
        trusted = acknowledged and (acknowledged.checksum or self.put_reports_size)
        info = acknowledged if trusted else None
        if info is None:
            info = self._call(dest, self._stat, dest)
        if info is None:
            raise self._error(VerificationFailed, "the uploaded file is missing", dest)
        if info.size != size:
            message = f"remote size {info.size} differs from local size {size}"
            raise self._error(VerificationFailed, message, dest)
        local_sum = md5_like(src, start, info.checksum) if info.checksum else None
        if local_sum is not None and local_sum != info.checksum:
            raise self._error(VerificationFailed, "remote checksum differs", dest)
        if verify == "content":
            remote = HashingSink()
            self._call(dest, self._get, dest, cast(IO[bytes], remote), None)
            local = hashlib.sha256()
            src.seek(start)
            while chunk := src.read(_CHUNK):
                local.update(chunk)
            if remote.hash.digest() != local.digest():
                raise self._error(VerificationFailed, "remote content differs", dest)
        return info

    def _identical(self, existing: RemoteInfo, src: IO[bytes], size: int) -> bool:
        if existing.is_dir or existing.size != size:
            return False
        local_sum = md5_like(src, src.tell(), existing.checksum) if existing.checksum else None
        return local_sum is None or local_sum == existing.checksum

    def _free_name(self, path: str) -> str:
        folder, slash, base = path.rpartition("/")
        stem, dot, ext = base.partition(".")
        for n in range(1, 10_000):
            candidate = f"{folder}{slash}{stem}-{n}{dot}{ext}"
            if self._call(candidate, self._stat, candidate) is None:
                return candidate
        raise self._error(RemoteExists, "no free name left", path)

    def _ensure_folder(self, folder: str) -> None:
        if folder not in self._folders:
            self._call(folder, self._makedirs, folder)
            self._folders.add(folder)

    def _discard(self, path: str) -> None:
        """Remove a temporary upload after a failure, if the connection still allows it."""
        if not self._connected:
            return
        try:
            self._guard(path, self._delete, path)
        except TargetError as exc:
            log_event(logger, "targets.cleanup_failed", logging.DEBUG, url=self.url, error=exc)

    def download(
        self, name: str, local: str | os.PathLike[str], *, durable_write: bool = True
    ) -> RemoteInfo:
        """Copy remote ``name`` to ``local``, written under a temporary name and renamed."""
        path = "/".join(split_name(name))
        info = self.stat(path)
        if info is None or info.is_dir:
            raise self._error(RemoteNotFound, None, path)
        final = Path(local)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}{_PARTIAL_SUFFIX}")
        try:
            with open(tmp, "wb") as dst:
                self._call(path, self._get_into, path, dst)
                size = dst.tell()
                if durable_write:
                    dst.flush()
                    os.fsync(dst.fileno())
            if size != info.size:
                message = f"downloaded {size} bytes, remote size is {info.size}"
                raise self._error(VerificationFailed, message, path)
            durable.publish(tmp, final, durable=durable_write, replace=True)
        finally:
            tmp.unlink(missing_ok=True)
        log_event(logger, "targets.downloaded", logging.INFO, url=self.url, name=path, size=size)
        return info

    def _get_into(self, path: str, dst: IO[bytes]) -> None:
        dst.seek(0)
        dst.truncate()
        self._get(path, dst, None)

    def read_bytes(self, name: str) -> bytes:
        """The content of the remote file ``name`` (for small files)."""
        import io

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

    def list(self, folder: str = "") -> list[RemoteInfo]:
        """The entries of ``folder``, sorted by name; temporary upload names are hidden."""
        path = "/".join(split_name(folder, what="folder")) if folder else ""
        entries = self._call(path, lambda: list(self._list(path)))
        return sorted((e for e in entries if not is_partial(e.name)), key=lambda e: e.name)

    def remove_partials(
        self, folder: str = "", *, older_than: float = 3600.0
    ) -> builtins.list[str]:
        """Delete temporary upload names left in ``folder`` by uploads that died.

        Only those last modified more than ``older_than`` seconds ago, so that
        uploads still running are left alone.  Returns the names removed.
        """
        path = "/".join(split_name(folder, what="folder")) if folder else ""
        limit = time.time() - older_than
        removed = []
        for entry in self._call(path, lambda: list(self._list(path))):
            if is_partial(entry.name) and entry.mtime is not None and entry.mtime <= limit:
                self._call(entry.name, self._delete, entry.name)
                removed.append(entry.name)
        if removed:
            log_event(
                logger, "targets.partials_removed", logging.INFO, url=self.url, count=len(removed)
            )
        return removed

    def delete(self, name: str, *, missing_ok: bool = False) -> None:
        path = "/".join(split_name(name))
        try:
            self._call(path, self._delete, path)
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
