"""File-system notifications, used as a wake-up hint only.

:class:`FolderHints` watches folders (the ``new/`` of each spool, the data
center's watched folder) with ``watchfiles`` (inotify on Linux) in a thread of
its own and calls back with the folders where something changed.  The
daemon then looks at those folders at once instead of at its next periodic
scan.  A hint is never trusted for *what* changed: the periodic scan stays
the ground truth, so nothing is missed where notifications are lost or do
not exist (NFS, SMB and other network file systems, overflowing queues), or
when ``watchfiles`` is not installed (``pip install 'entrepot[service]'``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from entrepot.logs import log_event

logger = logging.getLogger("entrepot.service")

__all__ = ["FolderHints", "hints_available"]

#: Milliseconds: a lone change is reported after this much quiet…
STEP_MS = 10
#: …and a stream of changes at least this often.
DEBOUNCE_MS = 50


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
        from watchfiles import watch

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
            log_event(logger, "service.hints_failed", logging.WARNING,
                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
