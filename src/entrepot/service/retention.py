"""Retention: old history and delivered files are pruned, so a service never grows without bound.

``service.retention`` says how long things are kept::

    [service.retention]
    runs = "30d"     # finished runs and provenance events (30 days when not written)
    cur = "14d"      # delivered files in each spool's cur/ (kept for ever when not written)

:func:`prune` deletes, in batches of short transactions (the daemon keeps
working meanwhile):

* the ledger's runs that ended before the cut-off, of jobs that are finished
  (succeeded, dropped, superseded), then the finished jobs left with no run
  (:meth:`Ledger.prune <entrepot.jobs.Ledger.prune>`), and the provenance
  events older than the same cut-off (:mod:`entrepot.provenance`);
* the files of each configured spool's ``cur/`` that arrived there before
  the cut-off (the later of the file's modification and status-change times:
  moving a file into ``cur/`` changes the latter); each one is recorded as
  ``pruned`` in its provenance.

Nothing else is touched: jobs waiting in the backlog, dead or running keep
all their runs, and ``new/``, ``claimed/`` and ``tmp/`` are never read.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from entrepot.jobs.ledger import Ledger
from entrepot.logs import log_event
from entrepot.provenance import Kind, Recorder
from entrepot.provenance.events import place_of
from entrepot.provenance.retention import prune_events
from entrepot.service.config import Config
from entrepot.spool import Spool

__all__ = ["PruneReport", "prune", "prune_cur"]

logger = logging.getLogger(__name__)

#: Rows or files removed per transaction or batch.
BATCH = 1000


@dataclass(frozen=True)
class PruneReport:
    """What one :func:`prune` removed."""

    runs: int = 0
    jobs: int = 0
    files: int = 0
    bytes: int = 0
    events: int = 0


def prune(
    config: Config,
    ledger: Ledger,
    now: datetime,
    *,
    batch: int = BATCH,
    stop: threading.Event | None = None,
) -> PruneReport:
    """Apply ``config.service.retention`` at ``now`` (aware); see the module docstring.

    ``stop``, when set (the service is stopping), ends the work between two
    batches; what is left goes at the next call.
    """
    retention = config.service.retention
    runs = jobs = files = size = events = 0
    if retention.runs is not None:
        before = now - timedelta(seconds=retention.runs)
        while not _stopped(stop):
            gone_runs, gone_jobs = ledger.prune(before, batch=batch)
            runs, jobs = runs + gone_runs, jobs + gone_jobs
            if not (gone_runs or gone_jobs):
                break
        while not _stopped(stop):
            gone_events = prune_events(ledger.engine, before, batch=batch)
            events += gone_events
            if not gone_events:
                break
    if retention.cur is not None:
        cutoff = now.timestamp() - retention.cur
        with Recorder(ledger.engine, state_dir=ledger.state_dir) as recorder:
            for name, spool in config.spools.items():
                if _stopped(stop):
                    break
                gone, gone_bytes = prune_cur(
                    spool.path, cutoff, batch=batch, stop=stop, recorder=recorder
                )
                files, size = files + gone, size + gone_bytes
                if gone:
                    log_event(
                        logger, "retention.cur_pruned", spool=name, files=gone, bytes=gone_bytes
                    )
    report = PruneReport(runs, jobs, files, size, events)
    if runs or jobs or files or events:
        log_event(
            logger, "retention.pruned", runs=runs, jobs=jobs, files=files, bytes=size,
            events=events,
        )  # fmt: skip
    return report


def prune_cur(
    spool: Path,
    cutoff: float,
    *,
    batch: int = BATCH,
    stop: threading.Event | None = None,
    recorder: Recorder | None = None,
) -> tuple[int, int]:
    """Delete the regular files of ``spool/cur`` that arrived before ``cutoff`` (epoch seconds).

    Returns how many files and bytes went.  Links, folders and dot-files are
    left alone (the spool's listing holds regular files only); a file
    removed meanwhile by someone else is skipped.
    """
    # A file's modification time is never later than its arrival in cur/, so
    # the listing (oldest first) narrows the candidates before their ctime is read.
    candidates = [e for e in Spool(spool).list("cur") if e.mtime < cutoff]
    place = place_of(spool)
    files = size = 0
    for start in range(0, len(candidates), batch):
        if _stopped(stop):
            break
        for entry in candidates[start : start + batch]:
            path = os.path.join(entry.folder, entry.name)
            try:
                if os.lstat(path).st_ctime >= cutoff:
                    continue  # written long ago, delivered lately
                os.unlink(path)
            except FileNotFoundError:
                continue
            log_event(logger, "retention.file_pruned", logging.DEBUG, path=path)
            if recorder is not None:
                recorder.record(
                    Kind.PRUNED, place, entry.name, size=entry.size, details={"from": "cur"}
                )
            files, size = files + 1, size + entry.size
    return files, size


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()
