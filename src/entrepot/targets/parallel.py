"""Work spread over several connections, one thread each: the one pool for parallel transfers.

A :class:`~entrepot.targets.Target` is used by one thread at a time, so
parallel transfers mean several targets.  :class:`ConnectionPool` runs
``work(target, item)`` for a list of items on up to ``parallel`` of them:

* the caller's thread works too, on the target it passes as ``first`` (the
  caller keeps and closes it) or on one the pool opens; each helper thread
  opens its own with ``connect()`` and the pool closes it at the end;
* every worker takes the next item in order and keeps its connection for
  every item it takes;
* when ``work`` raises, no more items are handed out, the other workers
  finish the item in hand, and the first exception is raised in the
  caller's thread.  ``work`` records what it does not want to stop the
  pool (a failure of one file), and may call :meth:`ConnectionPool.stop`
  to stop it without an error;
* signals reach only the caller's thread: on Ctrl-C or SIGTERM the caller
  stops handing out items, waits for the helpers to finish theirs (each
  call is bounded by its target's deadline), then lets the interrupt go on.

:func:`upload_many` is the pool applied to a list of local files.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from entrepot.errors import AuthenticationFailed, EntrepotError
from entrepot.logs import log_event
from entrepot.targets.base import Target
from entrepot.targets.info import RemoteInfo
from entrepot.targets.publish import Conflict, Verify
from entrepot.targets.registry import open_target
from entrepot.targets.transfer import Progress

__all__ = ["MAX_PARALLEL", "ConnectionPool", "FileSpec", "Transfer", "upload_many"]

#: The most connections one transfer of many files opens (a command's ``--parallel``,
#: a route's ``parallel``): beyond it, servers refuse or throttle, and nothing is gained.
MAX_PARALLEL = 64

logger = logging.getLogger(__name__)
_Item = TypeVar("_Item")

FileSpec = str | os.PathLike[str] | tuple[str | os.PathLike[str], str]


class ConnectionPool:
    """Items worked on over up to ``parallel`` connections; see the module docstring."""

    def __init__(
        self,
        connect: Callable[[], Target],
        *,
        parallel: int,
        first: Target | None = None,
        name: str = "entrepot-worker",
        stopping: threading.Event | None = None,
    ) -> None:
        self.connect = connect
        self.parallel = max(1, parallel)
        self.first = first
        self.name = name
        self._stop = threading.Event()
        # Set by the owner (a run asked to stop): no more items either, but
        # unlike an error it is the owner's to report.
        self._stopping = stopping or threading.Event()

    def stop(self) -> None:
        """Hand out no more items (the ones in hand are finished); any thread may call."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or self._stopping.is_set()

    def run(self, items: Iterable[_Item], work: Callable[[Target, _Item], None]) -> list[_Item]:
        """Work on ``items``; return those never handed out (after a stop).

        Raises the first exception ``work`` (or ``connect``) raised, once every
        worker has stopped.
        """
        queue = deque(items)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def take() -> tuple[_Item] | None:
            with lock:
                if self.stopped or not queue:
                    return None
                return (queue.popleft(),)

        def serve(target: Target | None, done: threading.Event | None = None) -> None:
            owned = target is None
            try:
                if target is None:
                    if self.stopped or not queue:
                        return
                    target = self.connect()
                while (taken := take()) is not None:
                    work(target, taken[0])
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                errors.append(exc)
                self._stop.set()
            finally:
                try:
                    if owned and target is not None:
                        target.close()
                finally:
                    if done is not None:
                        done.set()

        finished = [threading.Event() for _ in range(1, min(self.parallel, len(queue)))]
        for number, done in enumerate(finished, start=1):
            threading.Thread(
                target=serve, args=(None, done), name=f"{self.name}-{number}", daemon=True
            ).start()
        interrupted: BaseException | None = None
        try:
            serve(self.first)
        except KeyboardInterrupt as exc:  # raised here, in the caller's thread, by a signal
            self._stop.set()
            interrupted = exc
        for done in finished:
            # Waited for on events, not Thread.join(): a join cut short by a
            # signal marks the thread finished while it still runs (CPython 3.11).
            while not done.is_set():
                try:
                    done.wait(0.5)
                except KeyboardInterrupt as exc:
                    # The helpers finish the item in hand; then the interrupt goes on.
                    self._stop.set()
                    interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        if errors:
            raise errors[0]
        return list(queue)


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
    remaining files are not tried.  A bad URL or option raises at once.
    ``progress`` and ``on_done`` are called from the worker threads.
    """
    jobs: list[tuple[Path, str]] = []
    for spec in files:
        if isinstance(spec, tuple):
            jobs.append((Path(spec[0]), spec[1]))
        else:
            jobs.append((Path(spec), Path(spec).name))
    results: list[Transfer | None] = [None] * len(jobs)
    first = open_target(url, **options)
    pool = ConnectionPool(lambda: open_target(url, **options), parallel=parallel, first=first)
    fatal: list[Exception] = []

    def work(target: Target, index: int) -> None:
        local, name = jobs[index]
        try:
            info = target.upload(local, name, conflict=conflict, verify=verify, progress=progress)
            result = Transfer(local, name, info=info)
        except (EntrepotError, OSError) as exc:
            result = Transfer(local, name, error=exc)
            if isinstance(exc, AuthenticationFailed):
                fatal.append(exc)
                pool.stop()
        results[index] = result
        if on_done is not None:
            on_done(result)

    try:
        pool.run(range(len(jobs)), work)
    finally:
        first.close()
    skipped: Exception = fatal[0] if fatal else RuntimeError("not attempted")
    outcome = [
        result if result is not None else Transfer(local, name, error=skipped)
        for result, (local, name) in zip(results, jobs, strict=True)
    ]
    log_event(
        logger,
        "targets.batch_done",
        logging.INFO,
        url=first.url,
        files=len(outcome),
        failed=sum(1 for t in outcome if not t.ok),
        parallel=min(pool.parallel, max(1, len(jobs))),
    )
    return outcome
