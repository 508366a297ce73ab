"""The data center's watched folder: CSV files dropped there are uploaded and imported.

A file is taken once the service itself has seen it stay the same (size,
modification time, inode and change time) for ``[datacenter] settle``
seconds, measured on the service's own monotonic clock, so one still being
copied in is left alone.  A file's modification time is never trusted
alone: on a network file system it comes from another machine's clock, and
one running minutes behind would make a file still being written look
settled at first sight.  So a file already there when the service starts
waits one ``settle`` period too.  Hidden names and names ending ``.part``
or ``.tmp`` are never taken (write under such a name, then rename: the
renamed file is taken one ``settle`` period later).

**Which table.**  A file's table is its name up to the first dot, blanks
made underscores: ``students.csv`` and ``students.2026-03.csv`` both go to
table ``students``.

**How.**  The file is stored in the data center's root as an upload would be
(:func:`~entrepot.datacenter.uploads.store_upload`: its name normalised,
refused when it was already imported, too large or not text), imported by an
:class:`~entrepot.datacenter.ImportJob` through the runner and the ledger,
and only then removed from the watched folder.  A crash at any point loses
nothing and imports nothing twice: on the next pass a file whose identical
copy is already in the data center is not stored again, and its import is
started only when no job of it is recorded.  A file the data center refuses
moves to ``rejected/`` inside the watched folder, with the reason logged.

**A fleet.**  With ``[datacenter] shared = true`` (the root, the watched
folder and the database are the fleet's), each instance watches the folder
and each file is claimed in the ledger first (kind ``watch``, its path):
one instance takes it, and its import is a shared job, which any instance
resumes when the one running it dies (see ``docs/fleet.md``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import BinaryIO

from entrepot.datacenter.csvfiles import open_file
from entrepot.datacenter.storage import StorageTree
from entrepot.datacenter.uploads import normalise_name, store_upload
from entrepot.durable import rename_noreplace
from entrepot.errors import UnsafeEntry, UploadRejected
from entrepot.jobs import JobState, Ledger, Runner
from entrepot.jobs.ledger import OPEN
from entrepot.jobs.runner import DEFAULT_LEASE
from entrepot.logs import log_event
from entrepot.service.building import import_job
from entrepot.service.config import DataCenterConfig
from entrepot.service.interrupting import StopAware
from entrepot.service.looks import FileLook
from entrepot.service.telemetry import RunSummary, Telemetry
from entrepot.service.works import reported

logger = logging.getLogger("entrepot.service")

__all__ = ["WatchFolder", "table_for"]

#: The kind of claim that gives a file of a shared watched folder to one instance.
WATCH_CLAIMS = "watch"
#: Sub-folder of the watched folder that receives refused files.
REJECTED = "rejected"
_SKIPPED_SUFFIXES = (".part", ".tmp")
_BLANKS = re.compile(r"\s+")


def table_for(name: str) -> str:
    """The table a dropped file is imported into.

    >>> table_for("students.2026-03.csv")
    'students'
    >>> table_for("exam results.csv.gz")
    'exam_results'
    """
    return _BLANKS.sub("_", name.split(".", 1)[0].strip())


def _digest(handle: BinaryIO) -> str:
    sha = hashlib.sha256()
    while block := handle.read(1 << 20):
        sha.update(block)
    return sha.hexdigest()


class WatchFolder:
    """Takes the settled files of ``[datacenter] watch`` and imports each of them."""

    def __init__(
        self,
        center: DataCenterConfig,
        runner: Runner,
        telemetry: Telemetry,
        stopping: threading.Event,
    ) -> None:
        assert center.watch is not None
        self.center = center
        self.folder = center.watch
        self.runner = runner
        self.telemetry = telemetry
        self.stopping = stopping
        #: Each file seen: what it looked like, and since when (monotonic) it has looked so.
        self._seen: dict[str, tuple[FileLook, float]] = {}

    # -- which files -----------------------------------------------------------

    def settled(self) -> list[Path]:
        """The files seen unchanged for ``settle`` seconds, oldest first."""
        now = time.monotonic()
        found: dict[str, tuple[FileLook, float]] = {}
        ready: list[tuple[int, Path]] = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue  # folders (rejected/) and links are never taken
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            look = FileLook.of(info)
            before = self._seen.get(name)
            since = before[1] if before is not None and before[0] == look else now
            found[name] = (look, since)
            # Unchanged over passes that far apart on our clock: however old its mtime
            # says it is, a file whose writer's clock lags may still be growing.
            if now - since >= self.center.settle:
                ready.append((info.st_mtime_ns, Path(entry.path)))
        self._seen = found
        return [path for _, path in sorted(ready)]

    def next_check(self) -> float | None:
        """Seconds until a file seen but not yet settled may be taken (None: none waits)."""
        if not self._seen:
            return None
        now = time.monotonic()
        return max(0.05, min(self.center.settle - (now - s) for _, s in self._seen.values()))

    # -- the lane's work ----------------------------------------------------------

    def run(self, trigger: str) -> None:
        reported(self.telemetry, "watch", lambda: self._run(trigger))

    def _run(self, trigger: str) -> None:
        ledger = self.runner.ledger
        for path in self.settled():
            if self.stopping.is_set():
                return
            claim = None
            if self.center.shared and ledger is not None:
                # A shared folder: the file goes to the one instance that claims it.
                lease = ledger.lease or DEFAULT_LEASE
                claim = ledger.claim_key(WATCH_CLAIMS, str(path), lease=lease)
                if claim is None:
                    continue
            try:
                if path.is_file():  # else taken meanwhile by another instance
                    self.take(path, trigger)
            finally:
                if claim is not None and ledger is not None:
                    ledger.release_key(claim)

    def interrupt(self) -> None:
        """An import finishes its chunk in hand; the next file waits for the next start."""

    def take(self, path: Path, trigger: str = "watch") -> None:
        """Store ``path`` in the data center, import it, then remove it from the folder.

        The file is read through one descriptor, opened without following a link: a
        link swapped in for it since it was seen is refused (moved to ``rejected/``),
        never read — whoever drops files there cannot make the service import a file
        of their choosing from elsewhere on the machine."""
        tree = StorageTree(self.center.root).ensure(create_root=True)
        try:
            with open_file(path) as dropped:
                stored = normalise_name(path.name)
                if self._already_stored(tree, dropped, stored):
                    if not self._needs_import(tree, stored):
                        path.unlink(missing_ok=True)
                        return
                else:
                    policy = self.center.upload_policy()
                    stored = store_upload(tree, dropped, path.name, policy=policy).name
        except (UploadRejected, UnsafeEntry) as exc:
            self._reject(path, exc)
            return
        self._import(stored, table_for(path.name), trigger)
        path.unlink(missing_ok=True)

    def _already_stored(self, tree: StorageTree, dropped: BinaryIO, stored: str) -> bool:
        """True when an identical copy of ``dropped`` (read from its start, then left at
        its start) is in the root or was imported already."""
        size = os.fstat(dropped.fileno()).st_size
        mine = None
        for folder in (tree.root, tree.finished, tree.unfinished):
            copy = folder / stored
            if not (copy.is_file() and copy.stat().st_size == size):
                continue
            if mine is None:
                mine = _digest(dropped)
                dropped.seek(0)
            with open_file(copy) as kept:
                if _digest(kept) == mine:
                    return True
        return False

    def _needs_import(self, tree: StorageTree, stored: str) -> bool:
        """A copy waits in the root and no job of it is recorded (a crash came in between)."""
        if not (tree.root / stored).is_file():
            return False  # imported already: it moved to finished/ or unfinished/
        ledger = self.runner.ledger
        return ledger is None or not _recorded(ledger, str(tree.root), stored)

    def _import(self, stored: str, table: str, trigger: str) -> None:
        job = import_job(self.center, stored, table)
        started = time.monotonic()
        result = self.runner.run(StopAware(job, self.stopping), shared=self.center.shared)
        rows = job.result
        self.telemetry.run_finished(
            RunSummary(
                kind="import",
                name="datacenter",
                target=None,
                outcome=str(result.outcome),
                seconds=time.monotonic() - started,
                files=1 if result.ok else 0,
                bytes=result.bytes,
                failed_files=0 if result.ok else 1,
                rows_ok=rows.successful if rows else 0,
                rows_failed=rows.failed if rows else 0,
                trigger=trigger,
            )
        )
        log_event(logger, "service.imported", logging.INFO if result.ok else logging.ERROR,
                  file=stored, table=table, outcome=result.outcome, job_id=result.job_id,
                  rows_ok=rows.successful if rows else 0,
                  rows_failed=rows.failed if rows else 0)  # fmt: skip

    def _reject(self, path: Path, error: UploadRejected | UnsafeEntry) -> None:
        folder = self.folder / REJECTED
        folder.mkdir(exist_ok=True)
        for number in range(1000):
            name = path.name if number == 0 else f"{path.name}.{number}"
            try:
                rename_noreplace(path, folder / name)
                break
            except FileExistsError:
                continue
        log_event(logger, "service.import_rejected", logging.ERROR, file=path.name,
                  reason=str(error), moved_to=f"{REJECTED}/")  # fmt: skip
        self.telemetry.run_finished(
            RunSummary(
                kind="import",
                name="datacenter",
                target=None,
                outcome="failed",
                seconds=0.0,
                failed_files=1,
                trigger="watch",
            )
        )


def _recorded(ledger: Ledger, root: str, stored: str) -> bool:
    states = (*OPEN, JobState.RUNNING)
    return any(
        job.params.get("root") == root and job.params.get("file") == stored
        for job in ledger.jobs(states=states, kind="import")
    )
