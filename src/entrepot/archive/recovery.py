"""Finishing archives left open by a writer that crashed.

A ``.open`` file whose writer is gone (its ``flock`` can be taken) is read
up to its last intact record, cut there (the torn tail goes), sealed, and
handed on like any archive sealed normally.  Leftovers of an interrupted
hand-off are settled too: a hand-off killed after its rename is finished
from its note (:mod:`.sealnote`), a half-written compressed copy is
removed, and an open file whose archive was already published under a
final name is dropped instead of being published twice.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from entrepot import durable
from entrepot.archive import compress, format
from entrepot.archive.handoff import HandOff
from entrepot.archive.naming import candidates
from entrepot.archive.reader import OPEN_SUFFIX, ArchiveReader
from entrepot.archive.sealnote import NOTE_SUFFIX, HeldNote, SealNote, notes_in
from entrepot.archive.series import peek_header
from entrepot.errors import ArchiveError
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


def recover_directory(
    directory: str | os.PathLike[str],
    handoff: HandOff | None = None,
    *,
    match: Callable[[str], bool] | None = None,
) -> list[Path]:
    """Recover every abandoned ``.open`` archive in ``directory``; return where they went.

    ``match(final_name)`` limits recovery to names a given template produces.
    """
    handoff = handoff or HandOff()
    folder = Path(directory)
    recovered = resume_handoffs(folder, handoff, match=match)
    # Compressed leftovers first: their plain source is recovered afresh below.
    for path in sorted(folder.glob("*" + OPEN_SUFFIX), key=_compressed_first):
        name = compress.plain_name(path.name[: -len(OPEN_SUFFIX)])
        if match is not None and not match(name):
            continue
        try:
            result = recover_file(path, handoff)
        except (ArchiveError, OSError) as exc:
            _failed(path, exc)
            continue
        if result is not None:
            recovered.append(result)
    return recovered


def resume_handoffs(
    folder: Path, handoff: HandOff, *, match: Callable[[str], bool] | None = None
) -> list[Path]:
    """Settle the notes of hand-offs killed midway (see :mod:`.sealnote`); return where
    the archives whose seal had happened went."""
    resumed = []
    for path in notes_in(folder):
        if match is not None and not match(path.name[1 : -len(NOTE_SUFFIX)]):
            continue
        try:
            taken = HeldNote.take(path)
        except (ArchiveError, OSError) as exc:  # a link, a FIFO, a note no hand-off wrote
            _failed(path, exc)
            continue
        if taken is None:
            continue  # its hand-off is alive, or just settled
        held, note = taken
        try:
            if note is None or (sealed := _sealed_from(folder, note)) is None:
                # Never renamed (the open file is recovered below), or gone on, recorded.
                held.remove()
                continue
            resumed.append(handoff.resume(sealed, note, held))
        except (ArchiveError, OSError) as exc:
            _failed(path, exc)
        finally:
            held.release()
    return resumed


def _failed(path: Path, exc: BaseException) -> None:
    log_event(logger, "archive.recovery_failed", logging.ERROR, path=path,
              error=f"{type(exc).__name__}: {exc}")  # fmt: skip


def _sealed_from(folder: Path, note: SealNote) -> Path | None:
    """The final file of ``note`` if its seal happened and the file is still here (its
    names are bare names in ``folder``: :meth:`SealNote.parse`; never a symbolic link)."""
    final = folder / note.final
    if _archive_of(final) != note.archive:
        return None
    source = folder / note.source
    if _archive_of(source) == note.archive:
        source.unlink()  # compressed from it, or a rename's second name: the same archive
    return final


def _archive_of(path: Path) -> str | None:
    try:
        header = peek_header(path, follow=False)
    except (ArchiveError, OSError):
        return None
    return header.archive_id.hex if header is not None else None


_COMPRESSED_OPEN = tuple(suffix + OPEN_SUFFIX for suffix in compress.SUFFIXES.values())


def _compressed_first(path: Path) -> tuple[bool, str]:
    return (not path.name.endswith(_COMPRESSED_OPEN), path.name)


def recover_file(path: Path, handoff: HandOff) -> Path | None:
    """Recover one ``.open`` file unless its writer still holds it; return its final path.

    Only a regular file is recovered: a symbolic link named like an open archive
    (to an archive elsewhere, which recovery would cut, seal and hand on) or a FIFO
    is refused (:class:`~entrepot.errors.ArchiveError`) and left as it is."""
    try:
        fd = durable.open_regular(path, os.O_RDWR, follow=False)
    except FileNotFoundError:
        return None
    except durable.NotRegularFile as exc:
        raise ArchiveError(f"{path.name} {exc.what}; left as it is") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live writer owns it
        with open(fd, "rb", closefd=False) as raw:
            prefix = raw.read(16)
        if compress.detect(prefix) is not None or path.name.endswith(_COMPRESSED_OPEN):
            # An interrupted compression; the plain archive is still there.
            path.unlink()
            log_event(logger, "archive.recovery_removed", path=path, reason="partial compression")
            return None
        if format.probe_version(prefix) != format.FORMAT_VERSION:
            if len(prefix) < len(format.MAGIC) and format.MAGIC.startswith(prefix):
                # Created but the header never reached the disk: it holds no records.
                path.unlink()
                log_event(logger, "archive.recovery_removed", path=path, reason="no header")
                return None
            log_event(logger, "archive.recovery_skipped", logging.WARNING, path=path,
                      reason="not a format-2 archive")  # fmt: skip
            return None
        name = path.name[: -len(OPEN_SUFFIX)]
        records, cut = _seal_in_place(fd, path)
        if _already_published(path, name, handoff):
            path.unlink()
            log_event(logger, "archive.recovery_removed", path=path, reason="already published")
            return None
        log_event(logger, "archive.recovered", path=path, records=records, size=cut)
        return handoff.finish(path, name, records, archive_id=_archive_of(path))
    finally:
        os.close(fd)


def _seal_in_place(fd: int, path: Path) -> tuple[int, int]:
    """Cut the file after its last intact record and append the seal record."""
    with ArchiveReader(path) as reader:
        if reader.header is None:
            raise ArchiveError(f"{path.name}: the archive header is damaged; left as it is")
        records = sum(1 for _ in reader)
        end = reader.good_end
        sealed = reader.sealed
    if sealed:
        os.truncate(fd, end)
    else:
        os.truncate(fd, end)
        os.pwrite(fd, format.encode_seal(records, time.time_ns()), end)
    os.fsync(fd)
    return records, end


def _already_published(path: Path, name: str, handoff: HandOff) -> bool:
    """True when a final archive with the same archive id exists next to ``path``."""
    try:
        with ArchiveReader(path) as reader:
            assert reader.header is not None
            archive_id = reader.header.archive_id
    except (ArchiveError, OSError):
        return False
    for candidate in candidates(name):
        # Whatever compression the earlier writer used, not just the current one.
        existing = [
            path.parent / each
            for each in (candidate, *(candidate + s for s in compress.SUFFIXES.values()))
            if (path.parent / each).exists()
        ]
        if not existing:
            return False
        for final in existing:
            try:
                with ArchiveReader(final) as other:
                    if other.header is not None and other.header.archive_id == archive_id:
                        return True
            except (ArchiveError, OSError):
                continue
    return False
