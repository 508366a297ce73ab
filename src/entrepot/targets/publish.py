"""Publish and verify: the upload path every target shares, built on its primitives.

:func:`publish` is :meth:`Target.upload` without the file handling:

* **conflict policies** — ``replace``, ``skip`` (identical size and checksum),
  ``fail`` (:class:`~entrepot.errors.RemoteExists`), ``rename`` and
  ``exclusive`` (written only if the name is free: :mod:`.exclusive`);
* **atomic publish** — the data goes to a temporary ``.NAME.TOKEN.partial``
  name in the same folder, renamed into place once verified (backends whose
  single write is atomic, like S3, set ``atomic_put`` and skip the rename);
* **verification** — the size always, a checksum where the protocol gives
  one, or the whole content read back with ``verify="content"``;
* **clean-up** — the temporary names of a failed upload are deleted, on a
  new connection if the failure closed the old one (a full disk must not
  be kept full by the upload that filled it); what cannot be deleted now is
  left for :meth:`Target.remove_partials`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Literal

from entrepot.errors import (
    ConfigError,
    RemoteExists,
    RemoteNotFound,
    TargetError,
    VerificationFailed,
)
from entrepot.logs import log_event
from entrepot.targets.info import RemoteInfo, partial_name
from entrepot.targets.transfer import Progress, digest_of, md5_like

if TYPE_CHECKING:
    from entrepot.targets.base import Target

__all__ = ["CONFLICT_POLICIES", "Conflict", "Upload", "Verify", "discard", "publish"]

logger = logging.getLogger(__name__)

Conflict = Literal["replace", "skip", "fail", "rename", "exclusive"]
Verify = bool | Literal["size", "content"]
CONFLICT_POLICIES = ("replace", "skip", "fail", "rename", "exclusive")


def publish(
    target: Target,
    src: IO[bytes],
    size: int,
    path: str,
    conflict: Conflict,
    verify: Verify,
    progress: Progress | None,
    checked: IO[bytes] | None = None,
) -> RemoteInfo:
    """Write ``size`` bytes of ``src`` (from its position) under ``path``; see the module.

    ``checked``: the same file as ``src``, read by the checks of the local data
    (a checksum to compare, the content to verify) — ``src`` read through a tap
    (:mod:`.tap`), which is to hash only what is sent.
    """
    if conflict not in CONFLICT_POLICIES:
        raise ConfigError(f"conflict policy must be one of {', '.join(CONFLICT_POLICIES)}")
    upload = Upload(target, src, src.tell(), size, checked)
    if conflict == "exclusive":
        from entrepot.targets.exclusive import publish_exclusive

        return publish_exclusive(upload, path, verify, progress)
    return upload.publish(path, conflict, verify, progress)


def _publish(
    upload: Upload, path: str, conflict: Conflict, verify: Verify, progress: Progress | None
) -> RemoteInfo:
    target, size = upload.target, upload.size
    if conflict != "replace":
        existing = target._call(path, target._stat, path)
        if existing is not None:
            if conflict == "skip" and upload.identical(existing):
                log_event(logger, "targets.skipped", logging.INFO, url=target.url, name=path)
                return replace(existing, kept=True)
            if conflict == "fail":
                raise target._error(RemoteExists, None, path)
            if conflict == "rename":
                path = _free_name(target, path)
    folder = path.rpartition("/")[0]
    if folder:
        target._ensure_folder(folder)
    try:
        acknowledged = target._call(path, upload.put, path, progress)
        dest = upload.partials[-1] if upload.partials else path
        info = upload.verify(dest, verify, acknowledged) if verify else None
        if dest != path:
            _rename_into_place(target, dest, path, size)
    except BaseException:
        for partial in upload.partials:
            discard(target, partial)
        raise
    for partial in upload.partials[:-1]:
        # Written by a connection that died: gone, or garbage to remove.
        discard(target, partial)
    log_event(logger, "targets.uploaded", logging.INFO, url=target.url, name=path, size=size)
    if info is None:
        return RemoteInfo(path, size, time.time())
    return replace(info, name=path)


def discard(target: Target, path: str) -> None:
    """Delete a temporary upload after a failure, reconnecting if need be.

    Never raises a target error: what cannot be deleted now stays for the
    sweep (:meth:`Target.remove_partials`).
    """
    try:
        target._call(path, target._delete, path)
    except RemoteNotFound:
        return  # never written, or already gone with its connection
    except TargetError as exc:
        log_event(
            logger, "targets.cleanup_failed", logging.WARNING, url=target.url, name=path, error=exc
        )
        return
    log_event(logger, "targets.partial_removed", logging.DEBUG, url=target.url, name=path)


class Upload:
    """The local data of one upload (``size`` bytes of ``src`` from ``start``) and its
    temporary names so far."""

    def __init__(
        self,
        target: Target,
        src: IO[bytes],
        start: int,
        size: int,
        checked: IO[bytes] | None = None,
    ) -> None:
        self.target = target
        self.src = src
        #: What the checks read: the same file, past any tap on ``src`` (each check
        #: ends back at ``start``, and every put seeks there first).
        self.checked = src if checked is None else checked
        self.start = start
        self.size = size
        self.partials: list[str] = []

    def publish(
        self, path: str, conflict: Conflict, verify: Verify, progress: Progress | None
    ) -> RemoteInfo:
        """Publish under ``path`` by ``conflict`` (anything but ``exclusive``)."""
        return _publish(self, path, conflict, verify, progress)

    def put_if_absent(self, path: str, progress: Progress | None) -> RemoteInfo | None:
        """Write ``path`` only if no object has that name (the store decides, atomically)."""
        target = self.target
        self.src.seek(self.start)
        return target._put_if_absent(path, self.src, self.size, target._progress(progress))

    def put(self, path: str, progress: Progress | None) -> RemoteInfo | None:
        """Write ``path``, or a fresh temporary name next to it (added to ``partials``).

        A retried put starts again from the beginning, under a name of its
        own: requests of a dead connection that the server carries out late
        (a truncation, a last write) cannot touch it.
        """
        target = self.target
        self.src.seek(self.start)
        dest = path
        if not target.atomic_put:
            dest = partial_name(path)
            self.partials.append(dest)
        return target._put(dest, self.src, self.size, target._progress(progress))

    def verify(self, dest: str, verify: Verify, acknowledged: RemoteInfo | None) -> RemoteInfo:
        """Check what ``dest`` holds against the local data; return its info."""
        target = self.target
        # A checksum in the write's own acknowledgement is as good as a fresh stat.
        trusted = acknowledged and (acknowledged.checksum or target.put_reports_size)
        info = acknowledged if trusted else None
        if info is None:
            info = target._call(dest, target._stat, dest)
        if info is None:
            raise target._error(VerificationFailed, "the uploaded file is missing", dest)
        if info.size != self.size:
            message = f"remote size {info.size} differs from local size {self.size}"
            raise target._error(VerificationFailed, message, dest)
        if not self.same_checksum(info):
            raise target._error(VerificationFailed, "remote checksum differs", dest)
        if verify == "content":
            remote = hashlib.sha256()
            target._call(dest, target._get, dest, remote.update, target._progress(None))
            if remote.hexdigest() != digest_of(self.checked, self.start, "sha256"):
                raise target._error(VerificationFailed, "remote content differs", dest)
        return info

    def identical(self, existing: RemoteInfo) -> bool:
        """True when ``existing`` holds the same data (same size, and checksum if known)."""
        return not existing.is_dir and existing.size == self.size and self.same_checksum(existing)

    def same_checksum(self, info: RemoteInfo) -> bool:
        """False only when ``info`` has a checksum we can compute and it differs."""
        if not info.checksum:
            return True
        return md5_like(self.checked, self.start, info.checksum) in {None, info.checksum}


def _rename_into_place(target: Target, dest: str, path: str, size: int) -> None:
    """Rename ``dest`` to ``path``, also when a lost connection hid that it did."""
    before = target._connections
    try:
        target._call(path, target._rename, dest, path)
    except RemoteNotFound:
        # Tried again on a new connection: the first try may have renamed
        # the file before its reply was lost with the old connection.
        if target._connections == before:
            raise
        done = target._call(path, target._stat, path)
        if done is None or done.size != size or target._call(dest, target._stat, dest):
            raise
        log_event(logger, "targets.rename_found_done", logging.INFO, url=target.url, name=path)


def _free_name(target: Target, path: str) -> str:
    folder, slash, base = path.rpartition("/")
    stem, dot, ext = base.partition(".")
    for n in range(1, 10_000):
        candidate = f"{folder}{slash}{stem}-{n}{dot}{ext}"
        if target._call(candidate, target._stat, candidate) is None:
            return candidate
    raise target._error(RemoteExists, "no free name left", path)
