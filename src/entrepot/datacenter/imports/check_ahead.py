"""Checking the next chunks of an import in a second process while this one writes.

Reading a chunk, checking every cell and writing it are done one after the
other by a plain import.  With two processors, a :class:`CheckWorker` — a
forked process that reads the same file with the same CSV reader — runs
the checks (:class:`~entrepot.datacenter.imports.row_checks.RowChecker`, duplicate
keys included) a chunk ahead, while the importing process reads its own copy
of the rows and writes them.  Only the verdicts travel between the two: the
problems found, the converted key values and whether the chunk may take
the fast path; a chunk that takes the general path also brings its
converted values.

Nothing about crash safety changes: the worker writes nothing, and each
chunk's rows and its ledger row are still committed in one transaction by
the importing process.  The worker dies with its parent (and holds none of
its locks), so a killed import leaves nothing running behind.

:func:`one_ahead` is the light version, for PostgreSQL: a thread reads and
checks the next chunk while the importing thread waits for the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from entrepot.datacenter.imports.header import HeaderPlan
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.row_checks import CheckedChunk, RowChecker
from entrepot.datacenter.imports.source import SourceFile
from entrepot.datacenter.table_schema import TableSpec
from entrepot.errors import ImportFailed

if TYPE_CHECKING:
    # multiprocessing itself is imported when a worker may start: most
    # imports never start one.
    from multiprocessing.connection import Connection

#: Files smaller than this are checked in the importing process itself:
#: starting a worker would cost more than it saves.
PARALLEL_MIN_BYTES = 4 << 20

_PR_SET_PDEATHSIG = 1
_T = TypeVar("_T")


def worth_a_worker(source: Path) -> bool:
    """Whether a second process is likely to speed up importing ``source``.

    Only when a processor is (nearly) idle: measured for 200,000 rows on two
    processors, the worker brought 1.26 s down to 0.97 s at a load average
    of 1.0 (the importer itself), but made it 1.67 s against 1.36 s at 2.3,
    when both processes compete for processors that others keep busy.
    """
    try:
        processors = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        processors = os.cpu_count() or 1
    import multiprocessing

    if processors < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if os.getloadavg()[0] >= processors - 0.5:
        return False
    try:
        return source.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False


def worker_for(
    source: Path,
    spec: TableSpec,
    plan: HeaderPlan,
    options: ImportOptions,
    done: Iterable[int],
    lock_fd: int | None,
) -> CheckWorker | None:
    """A process checking the chunks ahead, when one is asked for or worth it.

    ``lock_fd`` is the import lock's descriptor: the worker closes its copy,
    or the lock would outlive the importing process.
    """
    wanted = options.parallel if options.parallel is not None else worth_a_worker(source)
    import multiprocessing

    if not wanted or "fork" not in multiprocessing.get_all_start_methods():
        return None
    fds = [lock_fd] if lock_fd is not None else []
    return CheckWorker(source, spec, plan, options, skip=done, close_fds=fds)


class CheckWorker:
    """A forked process that checks the chunks of ``source`` in order."""

    def __init__(
        self,
        source: Path,
        spec: TableSpec,
        plan: HeaderPlan,
        options: ImportOptions,
        *,
        skip: Iterable[int] = (),
        close_fds: Iterable[int] = (),
    ) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        job = (source, spec, plan, options, frozenset(skip))
        self._process = context.Process(
            target=_work,
            args=(sender, receiver, job, tuple(close_fds), os.getpid()),
            name="entrepot-import-checks",
            daemon=True,
        )
        self._process.start()
        sender.close()
        self._receiver = receiver

    def checked(self, number: int, rows: list[list[str]]) -> CheckedChunk:
        """The worker's verdict on chunk ``number``, whose rows this process read as ``rows``."""
        try:
            message = self._receiver.recv()
        except EOFError:
            raise ImportFailed("the import's checking process stopped unexpectedly") from None
        if message[0] == "error":
            raise ImportFailed(message[1])
        got, chunk, raw = message
        assert isinstance(chunk, CheckedChunk)
        if got != number or chunk.size != len(rows):
            raise ImportFailed(f"the checking process is out of step (chunk {got}, not {number})")
        if raw:
            chunk.raw_rows = rows
        return chunk

    def close(self) -> None:
        """Stop the worker (at once if it is still busy) and wait for it."""
        self._receiver.close()
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._process.close()


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        # The parent died before the request took effect.
        os._exit(1)


def _work(
    sender: Connection,
    receiver: Connection,
    job: tuple[Any, ...],
    close_fds: tuple[int, ...],
    parent: int,
) -> None:
    receiver.close()
    # A lock shared with the parent would outlive it as long as this process.
    for fd in close_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    _die_with_parent(parent)
    source, spec, plan, options, skip = job
    try:
        checker = RowChecker(spec, plan, options)
        size = options.chunk_size
        for number, rows, unclosed in SourceFile(source, source.name, options).row_chunks():
            # Committed chunks are checked too: their keys count for the
            # duplicate test of the chunks that follow.
            chunk = checker.check(rows, number * size, unclosed=unclosed)
            if number in skip:
                continue
            raw = chunk.raw_rows is not None
            chunk.raw_rows = None
            sender.send((number, chunk, raw))
    except BrokenPipeError:
        pass
    except Exception as exc:  # noqa: BLE001 - reported to the importing process
        with contextlib.suppress(OSError):
            sender.send(("error", f"{source.name}: {exc}"))
    finally:
        sender.close()


_END: Any = object()


def one_ahead(items: Iterator[_T]) -> Iterator[_T]:
    """The items of ``items``, each next one made in a thread while this one is used."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="entrepot-import") as pool:
        pending = pool.submit(next, items, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, items, _END)
            try:
                yield item
            except BaseException:
                # Stop reading ahead before the error leaves the import.
                pending.cancel()
                raise
