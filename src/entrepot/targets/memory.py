"""``memory://store/folder`` — targets held in this process's memory.

For tests and examples: files live in a named :class:`MemoryStore` shared by
every target of the same store name (``memory://`` is the store ``""``), so a
test can upload through one target and look through another, or inspect
:func:`get_store` directly.  It behaves like a real folder: a missing folder
is :class:`~entrepot.errors.RemoteNotFound`, uploads are published under a
temporary name and renamed.  :func:`reset` forgets every store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from entrepot.errors import RemoteNotFound
from entrepot.targets.base import Target
from entrepot.targets.info import RemoteInfo
from entrepot.targets.transfer import Progress
from entrepot.targets.url import TargetURL


@dataclass
class MemoryStore:
    """Files (path → (content, mtime)) and folders of one in-memory store."""

    files: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    folders: set[str] = field(default_factory=lambda: {""})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_stores: dict[str, MemoryStore] = {}
_stores_lock = threading.Lock()


def get_store(name: str = "") -> MemoryStore:
    """The store called ``name``, created empty on first use."""
    with _stores_lock:
        return _stores.setdefault(name, MemoryStore())


def reset() -> None:
    """Forget every in-memory store."""
    with _stores_lock:
        _stores.clear()


class MemoryTarget(Target):
    """A folder in an in-memory store; see the module docstring."""

    scheme = "memory"

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        self.store = get_store(url.host)
        self.root = url.path.strip("/")
        with self.store.lock:
            self._add_folders(self.root)

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self.root, path) if part)

    def _add_folders(self, folder: str) -> None:
        parts = folder.split("/") if folder else []
        for n in range(1, len(parts) + 1):
            self.store.folders.add("/".join(parts[:n]))

    def _check_parent(self, key: str, path: str) -> None:
        if key.rpartition("/")[0] not in self.store.folders:
            raise self._error(RemoteNotFound, "no such folder", path)

    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        data = src.read(size)
        key = self._key(path)
        with self.store.lock:
            self._check_parent(key, path)
            self.store.files[key] = (data, time.time())
        progress(len(data))
        return None

    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        with self.store.lock:
            found = self.store.files.get(self._key(path))
        if found is None:
            raise self._error(RemoteNotFound, None, path)
        write(found[0])
        progress(len(found[0]))

    def _stat(self, path: str) -> RemoteInfo | None:
        key = self._key(path)
        with self.store.lock:
            if key in self.store.folders:
                return RemoteInfo(path, 0, None, None, True)
            found = self.store.files.get(key)
        return None if found is None else RemoteInfo(path, len(found[0]), found[1])

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        base = self._key(folder)
        prefix = f"{base}/" if base else ""
        skip = len(self._key(""))
        with self.store.lock:
            if base not in self.store.folders:
                raise self._error(RemoteNotFound, "no such folder", folder)
            found = [
                RemoteInfo(k[skip:].lstrip("/"), len(v[0]), v[1])
                for k, v in self.store.files.items()
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            ]
            found += [
                RemoteInfo(k[skip:].lstrip("/"), 0, None, None, True)
                for k in self.store.folders
                if k.startswith(prefix) and k != base and "/" not in k[len(prefix) :]
            ]
        return found

    def _rename(self, src: str, dst: str) -> None:
        old, new = self._key(src), self._key(dst)
        with self.store.lock:
            if old not in self.store.files:
                raise self._error(RemoteNotFound, None, src)
            self._check_parent(new, dst)
            self.store.files[new] = self.store.files.pop(old)

    def _delete(self, path: str) -> None:
        with self.store.lock:
            if self.store.files.pop(self._key(path), None) is None:
                raise self._error(RemoteNotFound, None, path)

    def _makedirs(self, folder: str) -> None:
        with self.store.lock:
            self._add_folders(self._key(folder))
