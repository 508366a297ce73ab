"""A series of archives: write events, roll over by policy, hand each file on.

:class:`RollingWriter` keeps one :class:`~entrepot.archive.writer.ArchiveWriter`
open at a time in ``directory``.  After each write (and on :meth:`tick`) it
asks its roll policy whether to roll; rolling seals the file and hands it on
(compression, spool delivery, ``on_close`` hooks — see
:mod:`entrepot.archive.handoff`).  On start it first recovers files that a
crashed writer left open, so nothing that was flushed is ever lost.

A roll that fails (a full disk) loses nothing: an archive that could not be
sealed stays the current one and the roll is tried again at a later write
or tick; one sealed but not handed on is unlocked, so that the next roll of
this writer, or the recovery of any other, hands it on.  :meth:`close`
raises when it cannot finish, saying what is left and where.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from entrepot.archive.compress import SUFFIXES, Compression, check_compression, plain_name
from entrepot.archive.format import MAX_RECORD, encode_record
from entrepot.archive.handoff import HandOff, Hook, call_hooks
from entrepot.archive.naming import DEFAULT_TEMPLATE, Template, candidates, check_room, name_room
from entrepot.archive.policies import NeverPolicy, RollPolicy, idle_after
from entrepot.archive.recovery import recover_directory, recover_file
from entrepot.archive.writer import ArchiveWriter, Sync, check_sync
from entrepot.errors import ArchiveClosed, ArchiveError, ConfigError
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: Seconds between two tries of a roll that failed (the disk was full).
ROLL_RETRY_SECONDS = 1.0


class RollingWriter:
    """Append events to a rolling series of archives in ``directory``.

    ``policy`` decides when to roll (default: never, until :meth:`close`);
    ``compression`` is ``"zstd"``, ``"gzip"`` or None; ``spool`` is a spool
    (or its path) whose ``new/`` folder receives each finished archive;
    ``provenance`` is a state folder whose journal records each archive's
    seal and hand-off (see :mod:`.handoff`).  A template whose names leave no
    room for the files made of them (:mod:`.naming`; less with a spool) is a
    :class:`~entrepot.errors.ConfigError` here, before anything is made.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        template: str = DEFAULT_TEMPLATE,
        *,
        policy: RollPolicy | None = None,
        compression: Compression | str | None = None,
        spool: Any = None,
        sync: Sync | str = "roll",
        on_open: Sequence[Hook] = (),
        on_close: Sequence[Hook] = (),
        writer_id: str | None = None,
        host: str | None = None,
        recover: bool = True,
        clock: Callable[[], float] = time.time,
        max_record: int = MAX_RECORD,
        provenance: str | os.PathLike[str] | None = None,
    ) -> None:
        # What is given is checked before anything is made: the names too, every file
        # this writer makes of them included (a spool wants shorter ones).
        compression = check_compression(compression)
        suffix = SUFFIXES[compression] if compression else ""
        self._room = name_room(spool=spool is not None, suffix=suffix)
        self.template = Template(template, host=host, room=self._room)
        self.policy: RollPolicy = policy if policy is not None else NeverPolicy()
        self._idle_after = idle_after(self.policy)
        self.sync: Sync = check_sync(sync)
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ConfigError(
                f"cannot make the archive folder {self.directory}: a file is in the way"
            ) from exc
        self.on_open = list(on_open)
        self.handoff = HandOff(
            compression=compression,
            spool=spool,
            on_close=on_close,
            provenance=provenance,
        )
        self.writer_id = writer_id
        self.clock = clock
        self.max_record = max_record
        self.closed = False
        #: Final paths of the archives this writer has finished, oldest first.
        self.finished: list[Path] = []
        #: Sealed ``.open`` files whose hand-off failed, to be handed on again.
        self.unfinished: list[Path] = []
        self._done_records = 0
        self._retry_at = 0.0
        self._current: ArchiveWriter | None = None
        self._lock = threading.Lock()
        if recover:
            self.finished.extend(
                recover_directory(self.directory, self.handoff, match=self.template.matches)
            )
        # Sealed archives compressed too (x.events.zst): {seq} goes on from all of them.
        self._seq = sum(
            1
            for name in os.listdir(self.directory)
            if not name.startswith(".") and self.template.matches(plain_name(name))
        )
        self.template.check_room(self._seq, self._room)

    # -- writing -----------------------------------------------------------------

    def write(self, metadata: dict[str, str], payload: Any) -> None:
        """Append one event: ``metadata`` maps str to str; ``payload`` is bytes, str or JSON.

        If this raises, the event is not in any archive; once it returns, it is kept.
        """
        with self._lock:
            current = self._current
            if current is None:
                if self.closed:
                    raise ArchiveClosed("the rolling writer is closed")
                current = self._open_for(metadata, payload)
            elif self._idle_after < math.inf and self._idle_due(current):
                self._roll_when_due()
                current = self._current or self._open_for(metadata, payload)
            current.write(metadata, payload)
            if self.policy.should_roll(current, current.last_write_at):
                self._roll_when_due()

    def _open_for(self, metadata: dict[str, str], payload: Any) -> ArchiveWriter:
        """A new archive for this event, opened only if the event can be written: one
        refused (its size, its types) leaves no empty archive behind (lock held)."""
        encode_record(metadata, payload, self.max_record)
        return self._open()

    @property
    def records(self) -> int:
        """Events accepted since this writer started."""
        current = self._current
        return self._done_records + (current.records if current is not None else 0)

    def _idle_due(self, current: ArchiveWriter) -> bool:
        now = time.monotonic()
        return now - current.last_write_at >= self._idle_after and self.policy.should_roll(
            current, now
        )

    def flush(self) -> None:
        """Make everything written so far durable (raise OSError if the disk refuses)."""
        with self._lock:
            if self._current is not None:
                self._current.flush()

    def tick(self) -> Path | None:
        """Apply time-based policies and interval syncs; call it now and then when idle."""
        with self._lock:
            current = self._current
            if current is None:
                if self.unfinished:
                    self._roll_when_due(current_too=False)
                return None
            if current.records and self.policy.should_roll(current, time.monotonic()):
                return self._roll_when_due()
            try:
                current.tick()
            except OSError as exc:
                self._log_failure("archive.sync_failed", current.open_path, exc)
            return None

    def roll(self) -> Path | None:
        """Seal and hand on the current archive now (None if nothing is open)."""
        with self._lock:
            self._hand_on_unfinished()
            return self._roll() if self._current is not None else None

    def close(self) -> Path | None:
        """Seal and hand on the current archive; the writer accepts no more events.

        Raise when that cannot be done (an OSError keeps its errno: a full
        disk is temporary).  If every event reached the file, the file is
        released as it is (``NAME.open``) for the next writer's recovery and
        the writer is closed; if some could not even be written, they stay in
        memory, the writer stays open, and ``close()`` may be called again.
        """
        with self._lock:
            result = None
            current = self._current
            if current is not None:
                try:
                    result = self._roll()
                except Exception as exc:
                    raise self._close_failed(current, exc) from exc
            self.closed = True
            self._hand_on_unfinished()
            return result

    def _close_failed(self, current: ArchiveWriter, cause: Exception) -> Exception:
        """Settle a failed final roll; return the error that says what is left and where."""
        if self._current is None:
            self.closed = True
            message = "is sealed but could not be handed on; the next writer in this folder does"
        elif current.pending:
            message = (
                f"could not take {current.pending} more bytes of events; they are still held: "
                "call close() again once the disk has room"
            )
        else:
            self._current = None
            self._done_records += current.records
            current.abort()
            self.closed = True
            message = "could not be sealed; every event is in it, and the next writer here seals it"
        text = f"{current.open_path} {message} ({cause})"
        return OSError(cause.errno, text) if isinstance(cause, OSError) else ArchiveError(text)

    def __enter__(self) -> RollingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def current_path(self) -> Path | None:
        """The ``.open`` file being written, if any."""
        return self._current.open_path if self._current is not None else None

    # -- internals ----------------------------------------------------------------

    def _open(self) -> ArchiveWriter:
        seq = self._seq
        self._seq += 1
        base = self.template.render(seq, self.clock())
        for name in candidates(base):
            # Refused before its first record: a wider {seq}, or too many names taken.
            check_room(name, self._room)
            if self.handoff.taken(self.directory, name):
                continue
            try:
                writer = ArchiveWriter(
                    self.directory / name,
                    sync=self.sync,
                    writer_id=self.writer_id,
                    seq=seq,
                    max_record=self.max_record,
                    hashed=self.handoff.provenance is not None,
                )
            except FileExistsError:
                continue
            break
        try:
            self.handoff.opened(writer.path, writer.archive_id.hex)
        except BaseException:
            # No record in it yet: the write that opened it fails, and leaves nothing.
            writer.abort()
            writer.open_path.unlink(missing_ok=True)
            raise
        self._current = writer
        call_hooks(self.on_open, writer.open_path, "open")
        return writer

    def _roll(self) -> Path:
        writer = self._current
        assert writer is not None
        writer.finish()  # on failure the archive stays current, its events kept
        self._current = None
        self._done_records += writer.records
        try:
            final = self.handoff.finish(
                writer.open_path, writer.path.name, writer.records, digest=writer.digest,
                archive_id=writer.archive_id.hex,
            )  # fmt: skip
        except BaseException:
            # Sealed but not handed on: released below, so a later roll or any recovery can.
            self.unfinished.append(writer.open_path)
            raise
        finally:
            writer.release()
        self.finished.append(final)
        log_event(logger, "archive.rolled", path=final, records=writer.records, size=writer.size)
        return final

    def _roll_when_due(self, *, current_too: bool = True) -> Path | None:
        """Roll (and hand on what earlier rolls left) unless a failure is too recent to retry.

        A failure is logged, not raised: the events are kept and the roll is tried again.
        """
        if time.monotonic() < self._retry_at:
            return None
        try:
            self._hand_on_unfinished()
            return self._roll() if current_too and self._current is not None else None
        except Exception as exc:  # noqa: BLE001 - nothing is lost; retried after a pause
            self._retry_at = time.monotonic() + ROLL_RETRY_SECONDS
            path = self._current.open_path if self._current is not None else self.directory
            self._log_failure("archive.roll_failed", path, exc)
            return None

    def _hand_on_unfinished(self) -> None:
        """Hand on the sealed files an earlier failure left (through recovery, which locks)."""
        while self.unfinished:
            final = recover_file(self.unfinished[0], self.handoff)
            self.unfinished.pop(0)
            if final is not None:
                self.finished.append(final)

    @staticmethod
    def _log_failure(event: str, path: Path, exc: BaseException) -> None:
        log_event(logger, event, logging.ERROR, path=path, error=f"{type(exc).__name__}: {exc}")
