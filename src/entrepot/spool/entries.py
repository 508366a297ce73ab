"""What spool listings and upkeep report: entries, area totals, recovery results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """A file in one area of a spool."""

    name: str
    area: str
    folder: str
    size: int
    mtime: float

    @property
    def path(self) -> Path:
        """The file's path (made on demand: listings of many files rarely need it)."""
        return Path(self.folder, self.name)


@dataclass(frozen=True)
class AreaStats:
    """How many files an area holds, their total size, and when the oldest was last changed."""

    files: int
    bytes: int
    #: Modification time (epoch seconds) of the oldest file; ``None`` when the area is empty.
    oldest: float | None = None


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`Spool.recover` cleaned up."""

    tmp_removed: list[str] = field(default_factory=list)
    claims_released: list[str] = field(default_factory=list)
