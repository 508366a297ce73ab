"""Parallel uploads: several targets, one connection each, sharing one queue.

A :class:`~entrepot.targets.Target` is used by one thread at a time, so
parallelism means several targets.  :func:`upload_many` opens ``parallel`` of
them on the same URL, lets each take the next file from a shared queue and
reuse its connection for every file it takes, and reports one
:class:`Transfer` per file, in the order given.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrepot.errors import AuthenticationFailed, EntrepotError
from entrepot.logs import log_event
from entrepot.targets.base import Conflict, Progress, RemoteInfo, Target, Verify
from entrepot.targets.registry import open_target
from entrepot.targets.url import mask_url

logger = logging.getLogger(__name__)

FileSpec = str | os.PathLike[str] | tuple[str | os.PathLike[str], str]


@dataclass(frozen=True)
class Transfer:
    """The outcome of one file: ``info`` when it was published, ``error`` when not."""

    local: Path
    name: str
    info: RemoteInfo | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def upload_many(
    url: str | os.PathLike[str],
    files: Iterable[FileSpec],
    *,
    parallel: int = 4,
    conflict: Conflict = "replace",
    verify: Verify = True,
    progress: Progress | None = None,
    on_done: Callable[[Transfer], None] | None = None,
    **options: Any,
) -> list[Transfer]:
    """Upload ``files`` (paths, or ``(path, remote_name)`` pairs) to ``url``.

    Failures are reported per file, never raised; after a failed login the
    remaining files are not tried.  ``progress`` and ``on_done`` are called
    from the worker threads.
    """
    jobs: list[tuple[Path, str]] = []
    for spec in files:
        if isinstance(spec, tuple):
            jobs.append((Path(spec[0]), spec[1]))
        else:
            jobs.append((Path(spec), Path(spec).name))
    results: list[Transfer | None] = [None] * len(jobs)
    lock = threading.Lock()
    next_index = 0
    fatal: list[Exception] = []

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if fatal or next_index >= len(jobs):
                return None
            next_index += 1
            return next_index - 1

    def work(target: Target) -> None:
        try:
            while (index := take()) is not None:
                local, name = jobs[index]
                try:
                    info = target.upload(
                        local, name, conflict=conflict, verify=verify, progress=progress
                    )
                    result = Transfer(local, name, info=info)
                except (EntrepotError, OSError) as exc:
                    result = Transfer(local, name, error=exc)
                    if isinstance(exc, AuthenticationFailed):
                        with lock:
                            fatal.append(exc)
                results[index] = result
                if on_done is not None:
                    on_done(result)
        finally:
            target.close()

    workers = max(1, min(parallel, len(jobs)))
    # Opened here so that a bad URL or option raises at once, in the caller's thread.
    targets = [open_target(url, **options) for _ in range(workers)]
    if workers == 1:
        work(targets[0])
    else:
        threads = [
            threading.Thread(target=work, args=(t,), name=f"entrepot-upload-{n}", daemon=True)
            for n, t in enumerate(targets)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    skipped: Exception = fatal[0] if fatal else RuntimeError("not attempted")
    outcome = [
        result if result is not None else Transfer(local, name, error=skipped)
        for result, (local, name) in zip(results, jobs, strict=True)
    ]
    failed = sum(1 for t in outcome if not t.ok)
    log_event(
        logger,
        "targets.batch_done",
        logging.INFO,
        url=targets[0].url if targets else mask_url(os.fspath(url)),
        files=len(outcome),
        failed=failed,
        parallel=workers,
    )
    return outcome
