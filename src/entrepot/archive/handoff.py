"""What happens to an archive once it is complete: name, compress, deliver, notify.

The same steps run for an archive sealed by a live writer and for one
recovered after a crash, so a recovered archive is handed on like any other:

1. the sealed ``X.open`` is renamed to its final name ``X`` — or, with
   compression, compressed into ``X.zst.open``, renamed to ``X.zst``, and the
   plain ``X.open`` removed;
2. with a spool, the file is published into the spool's ``new/`` folder and
   the local copy removed;
3. every ``on_close`` hook is called with where the archive ended up.  A hook
   that raises is logged; the others still run and the archive stays.

With a state folder (``provenance``), each archive's provenance is written
to a journal there (no database needed in the producer's process; the next
command that opens the ledger records it): ``sealed`` (records, size, the
SHA-256 computed as the archive was written, or compressed), and when it
goes to a spool ``handed_off`` and the spool's ``received``.

Every step is a new name created exclusively or an atomic rename, so a crash
at any point leaves either ``.open`` files (which recovery finishes) or
complete archives — never a truncated or replaced one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from entrepot import durable
from entrepot.archive import compress
from entrepot.archive.naming import candidates
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.errors import NameExists
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

Hook = Callable[[Path], Any]


def call_hooks(hooks: Sequence[Hook], path: Path, event: str) -> None:
    """Call each hook with ``path``; a failing hook is logged and the rest still run."""
    for hook in hooks:
        try:
            hook(path)
        except Exception as exc:  # noqa: BLE001 - a hook must never lose an archive
            log_event(
                logger, "archive.hook_failed", logging.ERROR,
                hook=getattr(hook, "__qualname__", repr(hook)), event=event, path=path,
                error=f"{type(exc).__name__}: {exc}",
            )  # fmt: skip


class HandOff:
    """The settings of the steps that follow sealing."""

    def __init__(
        self,
        *,
        compression: compress.Compression | None = None,
        spool: Any = None,
        on_close: Sequence[Hook] = (),
        durable_io: bool = True,
        provenance: str | os.PathLike[str] | None = None,
    ) -> None:
        self.compression = compression
        self.spool = _open_spool(spool) if isinstance(spool, str | os.PathLike) else spool
        self.on_close = list(on_close)
        self.durable = durable_io
        self.provenance = provenance

    @property
    def suffix(self) -> str:
        return compress.SUFFIXES[self.compression] if self.compression else ""

    def taken(self, directory: Path, name: str) -> bool:
        """True when ``name`` (or a file it would become) already exists."""
        final = name + self.suffix
        return any(
            (directory / each).exists()
            for each in (name, name + OPEN_SUFFIX, final, final + OPEN_SUFFIX)
        )

    def finish(
        self, open_path: Path, name: str, records: int | None = None, *, digest: Any = None
    ) -> Path:
        """Move the sealed ``open_path`` (of ``records`` records, when known) to its final
        place and run the hooks.

        ``digest`` saw every byte of the sealed file as its writer wrote it:
        the checksum of an uncompressed archive.  Without it (an archive
        recovered after a crash) that checksum comes at its delivery.
        """
        directory = open_path.parent
        if self.compression:
            compressed = hashlib.sha256() if self.provenance is not None else None
            final = self._compress(open_path, directory, name, compressed)
            digest = compressed
        else:
            final = self._rename(open_path, directory, name)
        sealed = final
        if self.spool is not None:
            final = self._deliver(final)
        if self.provenance is not None:
            try:
                self._record(sealed, final, records, digest)
            except OSError as exc:
                # A state folder this producer cannot write to: the archive still goes on.
                log_event(
                    logger, "archive.provenance_failed", logging.WARNING, path=final,
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
        call_hooks(self.on_close, final, "close")
        return final

    def _record(self, sealed: Path, final: Path, records: int | None, digest: Any) -> None:
        """Journal the archive's seal and, if it went to a spool, its hand-off."""
        from entrepot.provenance.events import Kind
        from entrepot.provenance.journal import Journal

        assert self.provenance is not None
        journal = Journal(self.provenance)
        try:
            details = {"records": records, "compression": self.compression}
            if final == sealed:
                journal.arrived(Kind.SEALED, sealed.parent, final, digest, details)
                return
            journal.arrived(Kind.SEALED, sealed.parent, final, digest, details, name=sealed.name)
            handed = {"spool": str(self.spool.root), "as": final.name}
            journal.arrived(Kind.HANDED_OFF, sealed.parent, final, digest, handed, name=sealed.name)
            journal.arrived(Kind.RECEIVED, self.spool.root, final, digest, {"source": str(sealed)})
        finally:
            journal.close(remove=False)

    def _rename(self, open_path: Path, directory: Path, name: str) -> Path:
        for candidate in candidates(name):
            target = directory / candidate
            if self.taken(directory, candidate) and candidate != name:
                continue
            try:
                durable.publish(open_path, target, durable=self.durable)
            except FileExistsError:
                continue
            return target
        raise AssertionError("unreachable")

    def _compress(self, open_path: Path, directory: Path, name: str, digest: Any) -> Path:
        suffix = self.suffix
        assert self.compression is not None
        for candidate in candidates(name):
            target = directory / (candidate + suffix)
            temp = directory / (candidate + suffix + OPEN_SUFFIX)
            if target.exists():
                continue
            try:
                hashed = {} if digest is None else {"digest": digest}
                size = compress.compress_file(
                    open_path, temp, self.compression, durable=self.durable, **hashed
                )
            except FileExistsError:
                continue
            except BaseException:
                # Disk full or the like: the sealed plain file stays for the next try.
                temp.unlink(missing_ok=True)
                raise
            try:
                durable.publish(temp, target, durable=self.durable)
            except FileExistsError:
                temp.unlink()
                continue
            open_path.unlink()
            if self.durable:
                durable.fsync_dir(directory)
            log_event(
                logger, "archive.compressed", path=target, compression=self.compression,
                size=size,
            )  # fmt: skip
            return target
        raise AssertionError("unreachable")

    def _deliver(self, path: Path) -> Path:
        try:
            delivered = self._publish(path)
        except Exception as exc:  # noqa: BLE001 - the archive stays local, nothing is lost
            log_event(
                logger, "archive.delivery_failed", logging.ERROR, path=path,
                error=f"{type(exc).__name__}: {exc}",
            )  # fmt: skip
            return path
        path.unlink(missing_ok=True)
        where = Path(self.spool.path("new", delivered))
        log_event(logger, "archive.delivered", path=where)
        return where

    def _publish(self, path: Path) -> str:
        """Publish into the spool under the archive's name (or a free variant of it)."""
        for candidate in candidates(path.name):
            try:
                try:
                    # A hard link needs no copy; another file system needs one.
                    return str(self.spool.publish_file(path, candidate, link=True))
                except OSError:
                    return str(self.spool.publish_file(path, candidate))
            except NameExists:
                continue
        raise AssertionError("unreachable")


def _open_spool(path: str | os.PathLike[str]) -> Any:
    from entrepot.spool import Spool

    return Spool(path).prepare()
