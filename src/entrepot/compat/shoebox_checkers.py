"""shoebox's roll checkers, which decide when the archive being written rolls over.

Re-exported by :mod:`entrepot.compat.shoebox` (``roll_checker.SizeRollChecker``
and the others), where they are run as Entrepôt roll policies.
"""

from __future__ import annotations

import time
from typing import Any

from entrepot.archive.policies import ArchiveState

__all__ = ["MEGABYTE", "NeverRollChecker", "RollChecker", "SizeRollChecker", "TimeRollChecker"]

MEGABYTE = 1024 * 1024


class RollChecker:
    """Decides when the archive being written rolls over.

    ``start(archive)`` is called for each new archive, ``check(archive)``
    after each write.  ``archive`` has ``size`` (bytes), ``records`` and
    ``opened_at`` (``time.monotonic()``).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.options = kwargs

    def start(self, archive: Any) -> None:
        """A new archive was opened."""

    def check(self, archive: Any) -> bool:
        return False

    # The entrepot roll-policy protocol, so a checker can be used directly.
    def should_roll(self, state: ArchiveState, now: float) -> bool:
        return bool(self.check(state))


class NeverRollChecker(RollChecker):
    """Never roll over."""


class SizeRollChecker(RollChecker):
    """Roll once the archive reaches ``roll_size_mb`` megabytes (MiB); 1 unless told,
    as in shoebox."""

    def __init__(self, roll_size_mb: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.roll_size_mb = float(roll_size_mb)

    def check(self, archive: Any) -> bool:
        return bool(archive.size >= self.roll_size_mb * MEGABYTE)


class TimeRollChecker(RollChecker):
    """Roll once the archive has been open for ``roll_minutes`` minutes."""

    def __init__(self, roll_minutes: float = 60, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.roll_minutes = float(roll_minutes)

    def check(self, archive: Any) -> bool:
        return bool(time.monotonic() - archive.opened_at >= self.roll_minutes * 60)
