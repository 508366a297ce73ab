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

With a state folder (``provenance``), each archive's provenance is appended
to the folder's shared file of arrivals (:mod:`entrepot.provenance.shared`:
no database needed in the producer's process, no journal file per archive;
the next command that opens the ledger records it): ``archived`` when an
archive gets its first record, then in one line ``sealed`` (records, size,
the SHA-256 computed as the archive was written, or compressed), and when
it goes to a spool ``handed_off`` and the spool's ``received`` — each with
the archive's id (``archive``).  The local copy of an archive handed to a
spool is removed only after they were journaled.

Every step is a new name created exclusively or an atomic rename, so a crash
at any point leaves either ``.open`` files (which recovery finishes) or
complete archives — never a truncated or replaced one.  With a spool or a
state folder, a note written just before the rename (:mod:`.sealnote`)
lets recovery finish a hand-off killed after it: the spool gets the archive
once, and its events are journaled.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrepot import durable
from entrepot.archive import compress
from entrepot.archive.naming import candidates
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.archive.sealnote import HeldNote, SealNote, note_path
from entrepot.errors import ArchiveError, NameExists
from entrepot.logs import log_event

if TYPE_CHECKING:
    from entrepot.provenance.journal import Row

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
        return note_path(directory, name).exists() or any(
            (directory / each).exists()
            for each in (name, name + OPEN_SUFFIX, final, final + OPEN_SUFFIX)
        )

    def opened(self, path: Path, archive_id: str) -> None:
        """Journal the first step of the archive that ``path`` will be sealed as:
        ``archived``, its first record about to be written (with the archive's id)."""
        if self.provenance is None:
            return
        from entrepot.provenance.events import Kind, place_of
        from entrepot.provenance.journal import event_row

        name = path.name + self.suffix
        details = {"archive": archive_id}
        self._journal([event_row(Kind.ARCHIVED, place_of(path.parent), name, details=details)])

    def _journal(self, rows: list[Row]) -> None:
        """Append ``rows`` as one line to the state folder's shared file of arrivals."""
        from entrepot.provenance.shared import ARRIVALS, SharedJournal

        assert self.provenance is not None
        with SharedJournal(self.provenance, ARRIVALS) as journal:
            journal.append(rows)

    def finish(
        self,
        open_path: Path,
        name: str,
        records: int | None = None,
        *,
        digest: Any = None,
        archive_id: str | None = None,
    ) -> Path:
        """Move the sealed ``open_path`` (of ``records`` records, when known) to its final
        place and run the hooks.

        ``digest`` saw every byte of the sealed file as its writer wrote it:
        the checksum of an uncompressed archive.  Without it (an archive
        recovered after a crash) the file is read once more for it.
        ``archive_id`` is the header's (read from the file when not given).
        """
        directory = open_path.parent
        archive = archive_id or (_archive_id(open_path) if self._noted else None)
        seal = _Seal(name, records, archive) if archive is not None else None
        try:
            if self.compression:
                compressed = hashlib.sha256() if self.provenance is not None else None
                final = self._compress(open_path, directory, name, compressed, seal)
            else:
                if digest is None and self.provenance is not None:
                    digest = _sha256_of(open_path)
                if seal is not None:
                    seal.checksum = _checksum(digest)
                final = self._rename(open_path, directory, name, seal)
        except BaseException:
            if seal is not None and seal.held is not None:
                seal.held.release()  # whether the rename happened, recovery tells
            raise
        if seal is None or seal.note is None or seal.held is None:
            call_hooks(self.on_close, final, "close")
            return final
        return self.hand_on(final, seal.note, seal.held)

    @property
    def _noted(self) -> bool:
        # Without a spool or a journal, the rename is the whole seal: nothing to resume.
        return self.spool is not None or self.provenance is not None

    def hand_on(
        self, sealed: Path, note: SealNote, held: HeldNote, handed: Path | None = None
    ) -> Path:
        """Hand the sealed archive at ``sealed`` to the spool (unless ``handed``: already
        there), journal its events, remove the local copy, settle the note, run the hooks."""
        final = sealed
        try:
            if self.spool is not None:
                final = handed or self._deliver(sealed)
            if self.provenance is not None:
                try:
                    self._record(sealed, final, note)
                except OSError as exc:
                    # A state folder this producer cannot write to: the archive still goes on.
                    log_event(
                        logger, "archive.provenance_failed", logging.WARNING, path=final,
                        error=f"{type(exc).__name__}: {exc}",
                    )  # fmt: skip
            if final != sealed:
                sealed.unlink(missing_ok=True)
                log_event(logger, "archive.delivered", path=final)
            held.remove()
        finally:
            held.release()  # still there when a step failed: recovery finishes it
        call_hooks(self.on_close, final, "close")
        return final

    def resume(self, sealed: Path, note: SealNote, held: HeldNote) -> Path:
        """Finish the hand-off of ``sealed`` that a process killed after its rename left."""
        handed = self._linked_copy(sealed) if self.spool is not None else None
        log_event(logger, "archive.handoff_resumed", path=sealed, handed=handed or "")
        return self.hand_on(sealed, note, held, handed)

    def _linked_copy(self, sealed: Path) -> Path | None:
        """The spool's hard link to ``sealed``, if the killed hand-off had made it.

        (A spool on another file system holds a copy instead, which no link
        count reveals: such an archive is published again.)
        """
        stat = sealed.stat()
        if stat.st_nlink < 2:
            return None
        root = Path(self.spool.root)
        for area in sorted(os.listdir(root)):
            # A link still in tmp/ was never published: the spool's recovery removes it.
            if area == "tmp" or not (root / area).is_dir():
                continue
            with os.scandir(root / area) as entries:
                for entry in entries:
                    if os.path.samestat(entry.stat(follow_symlinks=False), stat):
                        return Path(entry.path)
        return None

    def _record(self, sealed: Path, final: Path, note: SealNote) -> None:
        """Journal the archive's seal and, if it went to a spool, its hand-off."""
        from entrepot.provenance.events import Kind, place_of
        from entrepot.provenance.journal import event_row

        def event(kind: Kind, place: str, name: str, details: dict[str, Any]) -> Row:
            return event_row(
                kind, place, name, size=note.size, checksum=note.checksum, details=details
            )

        place = place_of(sealed.parent)
        rows = [event(Kind.SEALED, place, sealed.name, note.details())]
        if final != sealed:
            handed = {"spool": str(self.spool.root), "as": final.name, "archive": note.archive}
            rows.append(event(Kind.HANDED_OFF, place, sealed.name, handed))
            received = {"source": str(sealed), "archive": note.archive}
            rows.append(event(Kind.RECEIVED, place_of(self.spool.root), final.name, received))
        self._journal(rows)  # one line: the seal's events are journaled together or not at all

    def _note(self, seal: _Seal | None, open_path: Path, target: Path, source: Path) -> None:
        """Write the note of ``seal`` (``source`` about to become ``target``)."""
        if seal is None:
            return
        assert seal.archive is not None
        note = SealNote(
            archive=seal.archive, source=open_path.name, final=target.name,
            records=seal.records, size=source.stat().st_size, checksum=seal.checksum,
            compression=self.compression,
        )  # fmt: skip
        if seal.held is not None:
            seal.held.remove()  # a candidate name that was taken meanwhile
        seal.held = HeldNote.write(
            note_path(target.parent, seal.name), note, durable_io=self.durable
        )
        seal.note = note

    def _rename(self, open_path: Path, directory: Path, name: str, seal: _Seal | None) -> Path:
        for candidate in candidates(name):
            target = directory / candidate
            if self.taken(directory, candidate) and candidate != name:
                continue
            self._note(seal, open_path, target, open_path)
            try:
                durable.publish(open_path, target, durable=self.durable)
            except FileExistsError:
                continue
            return target
        raise AssertionError("unreachable")

    def _compress(
        self, open_path: Path, directory: Path, name: str, digest: Any, seal: _Seal | None
    ) -> Path:
        suffix = self.suffix
        assert self.compression is not None
        for candidate in candidates(name):
            target = directory / (candidate + suffix)
            temp = directory / (candidate + suffix + OPEN_SUFFIX)
            if target.exists():
                continue
            # A fresh hash per try: a try given up for a taken name fed it already.
            hashed = {} if digest is None else {"digest": digest.copy()}
            try:
                size = compress.compress_file(
                    open_path, temp, self.compression, durable=self.durable, **hashed
                )
            except FileExistsError:
                continue
            except BaseException:
                # Disk full or the like: the sealed plain file stays for the next try.
                temp.unlink(missing_ok=True)
                raise
            if seal is not None:
                seal.checksum = _checksum(hashed.get("digest"))
            self._note(seal, open_path, target, temp)
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
        # The local copy goes once the events are journaled (see hand_on).
        return Path(self.spool.path("new", delivered))

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


class _Seal:
    """What :meth:`HandOff.finish` knows of the archive it seals, for its note."""

    def __init__(self, name: str, records: int | None, archive: str | None) -> None:
        self.name = name
        self.records = records
        self.archive = archive
        self.checksum: str | None = None
        self.note: SealNote | None = None
        self.held: HeldNote | None = None


def _checksum(digest: Any) -> str | None:
    return None if digest is None else f"{digest.name}:{digest.hexdigest()}"


def _sha256_of(path: Path) -> Any:
    """The SHA-256 of a sealed file whose writer did not hash it (recovered after a crash)."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    return digest


def _archive_id(path: Path) -> str:
    from entrepot.archive.series import peek_header

    header = peek_header(path)
    if header is None:
        raise ArchiveError(f"{path.name}: not a format-2 archive, which alone is sealed here")
    return header.archive_id.hex


def _open_spool(path: str | os.PathLike[str]) -> Any:
    from entrepot.spool import Spool

    return Spool(path).prepare()
