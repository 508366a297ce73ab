"""``gocept.filestore``'s ``FileStore`` as a facade over :class:`entrepot.spool.Spool`.

The old API keeps working: ``prepare()`` makes ``tmp/``, ``new/`` and
``cur/``; ``create()`` opens a file in ``tmp/``; ``move``, ``copy`` and
``remove`` work between areas; ``list()`` returns full paths.  Unlike the
original, names are checked (no ``..`` or ``/`` can leave the store) and a
move or copy never silently overwrites an existing file.
"""

from __future__ import annotations

import os
from typing import IO, Any

from entrepot.spool import Spool


class FileStore:
    """A folder with ``tmp``, ``new`` and ``cur`` areas shared by several processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # The original never synced; keep its speed, the spool offers durability when asked.
        self._spool = Spool(self.path, durable=False)

    def prepare(self) -> None:
        """Create the ``tmp``, ``new`` and ``cur`` areas (nothing happens if they exist)."""
        self._spool.prepare()

    def create(self, name: str, mode: str = "w") -> IO[Any]:
        """Open a new file ``name`` in the ``tmp`` area for writing."""
        return open(self._spool.path("tmp", name), mode)

    def move(self, name: str, src: str, dst: str) -> None:
        """Move file ``name`` from area ``src`` to area ``dst`` atomically."""
        self._spool.move(name, src, dst)

    def copy(self, name: str, src: str, dst: str) -> None:
        """Copy file ``name`` from area ``src`` to area ``dst``."""
        self._spool.copy(name, src, dst)

    def remove(self, name: str, area: str) -> None:
        """Delete file ``name`` from ``area``."""
        self._spool.remove(name, area)

    def list(self, area: str) -> list[str]:
        """The full paths of the files in ``area``, sorted by name."""
        return sorted(os.fspath(entry.path) for entry in self._spool.list(area))
