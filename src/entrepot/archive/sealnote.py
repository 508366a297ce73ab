"""The note an archive's hand-off leaves before its first irreversible step.

Sealing an archive takes several steps that no single rename covers: the
``X.open`` file becomes ``X`` (or ``X.zst``), goes into a spool, and its
provenance is journaled.  A process killed between two of them would leave
an archive sealed but never handed to its spool, or handed on but never
recorded.  So, just before the rename that makes the archive final, the
hand-off writes a small *note* next to it — ``.X.handoff``, synced to disk
before the rename — naming the archive (its id), the file it is sealed
from and under, its records, size and checksum.  The note is removed once
every step is done; a note found by recovery says what was under way
(see :func:`entrepot.archive.recovery.recover_directory`):

* the final file is there, with the note's archive id: the seal happened;
  the hand-off is finished (the spool publish, unless the spool already
  holds a link to the file) and the events journaled again — a journal
  read twice records an archive's events once (:mod:`entrepot.provenance.seals`);
* the ``.open`` file is still there: the seal never happened; the note goes
  and the open file is recovered like any other;
* neither: the archive left for its spool, and its local copy goes only
  after its events were journaled — nothing is left to do.

A note torn by the kill was never followed by the rename: it is dropped.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from entrepot import durable
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.errors import ArchiveError, InvalidName
from entrepot.names import check_name

__all__ = ["NOTE_SUFFIX", "HeldNote", "SealNote", "note_path", "notes_in"]

NOTE_SUFFIX = ".handoff"
#: The most of a note read: a hand-off writes a few hundred bytes.
_MOST = 1 << 16


@dataclass(frozen=True)
class SealNote:
    """What a hand-off under way is doing (see the module docstring)."""

    archive: str
    """The archive's id (the header's UUID, as hex)."""
    source: str
    """The sealed ``.open`` file's name."""
    final: str
    """The name it is sealed under, in the same folder."""
    records: int | None
    size: int
    checksum: str | None
    compression: str | None

    @classmethod
    def parse(cls, text: bytes) -> SealNote | None:
        """The note written as ``text``; None when it is torn (not JSON, fields missing).
        :class:`~entrepot.errors.ArchiveError` when it is whole but not one a hand-off
        writes: a name that is not a bare name in the archive's folder (``../x``), a field
        of the wrong type — a crafted note is never followed out of its folder."""
        try:
            fields = json.loads(text)
            note = cls(**fields)
        except (ValueError, TypeError, RecursionError):
            return None
        texts = (note.archive, note.source, note.final)
        numbers = (note.records, note.size)
        if not (
            all(isinstance(each, str) for each in texts)
            and all(isinstance(each, int | None) and not isinstance(each, bool) for each in numbers)
            and isinstance(note.checksum, str | None)
            and isinstance(note.compression, str | None)
            and note.source.endswith(OPEN_SUFFIX)
        ):
            raise ArchiveError("a hand-off note that no hand-off wrote: left as it is")
        for name in (note.source, note.final):
            try:
                check_name(name, what="archive name")
            except InvalidName as exc:
                raise ArchiveError(f"a hand-off note names {exc}: left as it is") from None
        return note

    def details(self) -> dict[str, object]:
        """The ``sealed`` event's details."""
        return {"records": self.records, "compression": self.compression, "archive": self.archive}


def note_path(directory: Path, name: str) -> Path:
    """The note of the archive whose base name (without ``.open``) is ``name``."""
    # A dot file: never matched by a reader's ``*`` nor by a name template's glob.
    return directory / f".{name}{NOTE_SUFFIX}"


def notes_in(directory: Path) -> list[Path]:
    """The notes left in ``directory``, by name."""
    return sorted(directory.glob(f".*{NOTE_SUFFIX}"))


class HeldNote:
    """A note on disk, locked (``flock``) by the process whose hand-off it describes:
    recovery leaves a locked note alone, as it leaves a locked ``.open`` file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def write(cls, path: Path, note: SealNote, *, durable_io: bool) -> HeldNote:
        """Write ``note`` at ``path`` (replacing a settled one), synced when ``durable_io``."""
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, json.dumps(asdict(note)).encode())
            if durable_io:
                os.fsync(fd)
                durable.fsync_dir(path.parent)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return cls(path, fd)

    @classmethod
    def take(cls, path: Path) -> tuple[HeldNote, SealNote | None] | None:
        """Lock a note left by a process that died; None while its writer lives.

        The note read is None when it is torn: the kill came before the rename.
        """
        try:
            fd = durable.open_regular(path, follow=False)
        except FileNotFoundError:
            return None
        except durable.NotRegularFile as exc:
            raise ArchiveError(f"{path.name} {exc.what}: left as it is") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Locked only once its writer had settled and removed it: nothing to do.
            if not os.path.samestat(os.fstat(fd), os.stat(path)):
                raise FileNotFoundError(path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        try:
            with open(fd, "rb", closefd=False) as raw:
                text = raw.read(_MOST)
            note = SealNote.parse(text)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd), note

    def remove(self) -> None:
        """The hand-off is settled: remove the note (before unlocking it)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        """Unlock the note and leave it (for recovery: the hand-off was not settled)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
