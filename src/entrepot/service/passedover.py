"""The files of a route's ``new/`` that no run can ship, remembered between runs.

A file put into ``new/`` by another program under a name no spool entry may
have (a control character, bytes that are not UTF-8) is passed over by every
run (``ship.name_skipped``) and stays there until an operator renames or
removes it.  Were it counted as waiting, every periodic scan would start a
run that records a new job and logs the same warning — thousands a day.  So
a route remembers what its last run passed over (each file's
:class:`~entrepot.service.looks.FileLook`), and a run started by a scan, a
timer or an arrival does not start when nothing else waits: the route logs
``service.files_passed_over`` once, and again once an hour while they stay.
``entrepot ship`` remembers nothing: it reports them every time (exit 7).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from entrepot.logs import log_event
from entrepot.service.looks import FileLook

logger = logging.getLogger("entrepot.service")

__all__ = ["PassedOver"]

#: Seconds between two reminders that a route passes files over.
REMIND_EVERY = 3600.0


class PassedOver:
    """What one route's runs passed over in ``new/``; used by its lane's thread only."""

    def __init__(self, route: str) -> None:
        self.route = route
        self._looks: dict[str, FileLook] = {}
        self._told: float | None = None

    @property
    def count(self) -> int:
        """How many files the last run passed over (as far as is known: they may be gone)."""
        return len(self._looks)

    def after_run(self, new: Path, names: Iterable[str]) -> None:
        """Remember the files of ``new`` that a run passed over (``names``), as they look now."""
        looks = {}
        for name in names:
            try:
                looks[name] = FileLook.of(os.stat(new / name, follow_symlinks=False))
            except OSError:
                continue  # gone already
        if looks.keys() != self._looks.keys():
            self._told = None  # other files: tell at once
        self._looks = looks

    def only_these(self, new: Path) -> bool:
        """True when ``new`` holds files and all of them are ones passed over, unchanged.

        Stops at the first file that is new or changed, so a spool with files to ship
        costs a look at a few entries only."""
        if not self._looks:
            return False
        seen = 0
        try:
            with os.scandir(new) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    look = self._looks.get(entry.name)
                    if look is None or look != FileLook.of(entry.stat(follow_symlinks=False)):
                        return False
                    seen += 1
        except FileNotFoundError:
            return False
        return seen > 0

    def remind(self) -> None:
        """Log that the route passes files over: the first time, then once an hour."""
        now = time.monotonic()
        if self._told is not None and now - self._told < REMIND_EVERY:
            return
        self._told = now
        shown = sorted(self._looks)[:5]
        log_event(logger, "service.files_passed_over", logging.WARNING, route=self.route,
                  files=len(self._looks), names=", ".join(shown),
                  hint="no run can ship these names: rename or remove them")  # fmt: skip
