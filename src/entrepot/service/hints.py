"""File-system notifications, used as a wake-up hint only.

:class:`FolderHints` watches folders (the ``new/`` of each spool, the data
center's watched folder) with ``watchfiles`` (inotify on Linux) in a thread of
its own and calls back with the folders where something changed.  The
daemon then looks at those folders at once instead of at its next periodic
scan.  A hint is never trusted for *what* changed: the periodic scan stays
the ground truth, so nothing is missed where notifications are lost or do
not exist (NFS, SMB and other network file systems, overflowing queues), or
when ``watchfiles`` is not installed (``pip install 'entrepot[service]'``).

**A watcher that fails is started again.**  ``watchfiles`` ends its watch
on some events — a file name that is not UTF-8, dropped into any watched
folder by any program, is one.  The watch is then started again, after a
pause that doubles from :data:`FIRST_PAUSE` up to :data:`MAX_PAUSE` while it
keeps failing (and starts over once a watch has lasted :data:`STEADY`), and
every folder is looked at once as it restarts, since what changed meanwhile
was not told.  :attr:`FolderHints.working` is False during such a pause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.service")

__all__ = ["FolderHints", "hints_available"]

#: Milliseconds: a lone change is reported after this much quiet…
STEP_MS = 10
#: …and a stream of changes at least this often.
DEBOUNCE_MS = 50
#: Seconds before a failed watch starts again, the first time…
FIRST_PAUSE = 0.1
#: …doubled at each failure in a row, up to this…
MAX_PAUSE = 60.0
#: …and back to the first after a watch that lasted this long.
STEADY = 300.0


def hints_available() -> bool:
    """Whether ``watchfiles`` is installed."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


class FolderHints:
    """Calls ``changed(folders)`` when files appear in any of ``folders``."""

    def __init__(self, folders: Iterable[Path], changed: Callable[[set[Path]], None]) -> None:
        self.folders = sorted({Path(folder) for folder in folders})
        self.changed = changed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: True while a watch runs (False before the start, during a pause, after the end).
        self.working = False
        #: Watches that failed and were started again.
        self.restarts = 0

    def start(self) -> bool:
        """Start watching; False (scans only) when there is nothing to watch or no watchfiles."""
        present = [folder for folder in self.folders if folder.is_dir()]
        if not present:
            return False
        if not hints_available():
            log_event(logger, "service.hints_unavailable", logging.WARNING,
                      hint="pip install 'entrepot[service]' for on-arrival wake-ups; "
                      "periodic scans only")  # fmt: skip
            return False
        self._thread = threading.Thread(
            target=self._watch, args=(present,), name="entrepot-hints", daemon=True
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _watch(self, folders: list[Path]) -> None:
        pause = 0.0
        while not self._stop.is_set():
            began = time.monotonic()
            failure = self._watch_once(folders)
            if failure is None:
                return  # stopped
            if time.monotonic() - began >= STEADY:
                pause = 0.0
            pause = min(max(pause * 2, FIRST_PAUSE), MAX_PAUSE)
            log_event(logger, "service.hints_failed", logging.WARNING, error=failure,
                      restart_in=f"{pause:g}s")  # fmt: skip
            if self._stop.wait(pause):
                return
            self.restarts += 1
            # What changed during the pause was not told: every folder is looked at.
            self.changed(set(folders))

    def _watch_once(self, folders: list[Path]) -> str | None:
        """Watch until stopped (``None``) or until the watch fails (what failed)."""
        from watchfiles import watch

        self.working = True
        try:
            for changes in watch(
                *folders,
                watch_filter=None,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                recursive=False,
                raise_interrupt=False,
                rust_timeout=0,
            ):
                touched = {Path(path).parent for _change, path in changes}
                self.changed(touched)
        except Exception as exc:  # noqa: BLE001 - hints are optional: scans carry on
            return f"{type(exc).__name__}: {exc}"
        finally:
            self.working = False
        return None if self._stop.is_set() else "the watch ended by itself"
