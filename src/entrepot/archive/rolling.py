"""A series of archives: write events, roll over by policy, hand each file on.

:class:`RollingWriter` keeps one :class:`~entrepot.archive.writer.ArchiveWriter`
open at a time in ``directory``.  After each write (and on :meth:`tick`) it
asks its roll policy whether to roll; rolling seals the file and hands it on
(compression, spool delivery, ``on_close`` hooks — see
:mod:`entrepot.archive.handoff`).  On start it first recovers files that a
crashed writer left open, so nothing that was flushed is ever lost.
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

from entrepot.archive.compress import Compression, check_compression
from entrepot.archive.handoff import HandOff, Hook, call_hooks
from entrepot.archive.naming import DEFAULT_TEMPLATE, Template, candidates
from entrepot.archive.policies import NeverPolicy, RollPolicy
from entrepot.archive.recovery import recover_directory
from entrepot.archive.writer import ArchiveWriter, Sync, check_sync
from entrepot.errors import ArchiveClosed
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


class RollingWriter:
    """Append events to a rolling series of archives in ``directory``.

    ``policy`` decides when to roll (default: never, until :meth:`close`);
    ``compression`` is ``"zstd"``, ``"gzip"`` or None; ``spool`` is a spool
    (or its path) whose ``new/`` folder receives each finished archive.
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
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.template = Template(template, host=host)
        self.policy: RollPolicy = policy if policy is not None else NeverPolicy()
        self.sync: Sync = check_sync(sync)
        self.on_open = list(on_open)
        self.handoff = HandOff(
            compression=check_compression(compression), spool=spool, on_close=on_close
        )
        self.writer_id = writer_id
        self.clock = clock
        self.closed = False
        #: Final paths of the archives this writer has finished, oldest first.
        self.finished: list[Path] = []
        self._idle_after = float(getattr(self.policy, "idle_after", math.inf))
        self._current: ArchiveWriter | None = None
        self._lock = threading.Lock()
        if recover:
            self.finished.extend(
                recover_directory(self.directory, self.handoff, match=self.template.matches)
            )
        self._seq = sum(1 for _ in self.directory.glob(self.template.glob()))

    # -- writing -----------------------------------------------------------------

    def write(self, metadata: dict[str, str], payload: Any) -> None:
        """Append one event: ``metadata`` maps str to str; ``payload`` is bytes, str or JSON."""
        with self._lock:
            current = self._current
            if current is None:
                if self.closed:
                    raise ArchiveClosed("the rolling writer is closed")
                current = self._open()
            elif self._idle_after < math.inf and self._idle_due(current):
                self._roll()
                current = self._open()
            current.write(metadata, payload)
            if self.policy.should_roll(current, current.last_write_at):
                self._roll()

    def _idle_due(self, current: ArchiveWriter) -> bool:
        now = time.monotonic()
        return now - current.last_write_at >= self._idle_after and self.policy.should_roll(
            current, now
        )

    def flush(self) -> None:
        """Make everything written so far durable."""
        with self._lock:
            if self._current is not None:
                self._current.flush()

    def tick(self) -> Path | None:
        """Apply time-based policies and interval syncs; call it now and then when idle."""
        with self._lock:
            current = self._current
            if current is None:
                return None
            if current.records and self.policy.should_roll(current, time.monotonic()):
                return self._roll()
            current.tick()
            return None

    def roll(self) -> Path | None:
        """Seal and hand on the current archive now (None if nothing is open)."""
        with self._lock:
            return self._roll() if self._current is not None else None

    def close(self) -> Path | None:
        """Seal and hand on the current archive; the writer accepts no more events."""
        with self._lock:
            result = self._roll() if self._current is not None else None
            self.closed = True
            return result

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
            if self.handoff.taken(self.directory, name):
                continue
            try:
                writer = ArchiveWriter(
                    self.directory / name, sync=self.sync, writer_id=self.writer_id, seq=seq
                )
            except FileExistsError:
                continue
            break
        self._current = writer
        call_hooks(self.on_open, writer.open_path, "open")
        return writer

    def _roll(self) -> Path:
        writer = self._current
        assert writer is not None
        self._current = None
        writer.finish()
        try:
            final = self.handoff.finish(writer.open_path, writer.path.name)
        finally:
            writer.release()
        self.finished.append(final)
        log_event(logger, "archive.rolled", path=final, records=writer.records, size=writer.size)
        return final
