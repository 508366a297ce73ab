"""Writing into a spool: the file handed to producers, and batches published together."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING

from entrepot.durable import fsync_dir, rename_noreplace, syncfs, write_file
from entrepot.errors import NameExists
from entrepot.logs import log_event
from entrepot.names import check_name
from entrepot.spool.naming import unique_name

logger = logging.getLogger(__name__)


if TYPE_CHECKING:
    from entrepot.spool.core import Spool


class SpoolWriter:
    """The file handed out by :meth:`Spool.writer`: write bytes, it is published on exit."""

    def __init__(self, file: IO[bytes], name: str, tmp_path: Path) -> None:
        self._file = file
        self.name = name
        self.tmp_path = tmp_path
        #: Where the file was published, set once the ``with`` block succeeded.
        self.path: Path | None = None

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        self._file.writelines(lines)

    def flush(self) -> None:
        self._file.flush()

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()


class Batch:
    """Files collected by :meth:`Spool.batch`, published together on :meth:`commit`."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._pending: list[tuple[Path, str]] = []
        self.names: list[str] = []

    def add_bytes(self, data: bytes, name: str | None = None) -> str:
        """Add a file holding ``data``; return its final name."""
        final = check_name(name) if name is not None else unique_name()
        tmp_path = self.spool.root / "tmp" / unique_name()
        write_file(tmp_path, data, durable=False)
        self._pending.append((tmp_path, final))
        return final

    def add_file(self, source: str | os.PathLike[str], name: str | None = None) -> str:
        """Add a copy of ``source``; return its final name."""
        source = Path(source)
        final = check_name(name if name is not None else source.name)
        tmp_path = self.spool.root / "tmp" / unique_name()
        shutil.copyfile(source, tmp_path)
        self._pending.append((tmp_path, final))
        return final

    def discard(self) -> None:
        """Remove every file added so far; nothing is published."""
        for tmp_path, _ in self._pending:
            tmp_path.unlink(missing_ok=True)
        self._pending.clear()

    def commit(self) -> list[str]:
        """Make the files durable with one flush, then publish them all into ``new/``."""
        spool = self.spool
        if spool.durable and self._pending:
            syncfs(spool.root / "tmp")
        target = spool.root / "new"
        taken = []
        for tmp_path, name in self._pending:
            try:
                rename_noreplace(tmp_path, target / name)
            except FileExistsError:
                tmp_path.unlink(missing_ok=True)
                taken.append(name)
                continue
            self.names.append(name)
        self._pending.clear()
        if spool.durable and self.names:
            fsync_dir(target)
        log_event(logger, "spool.batch_published", logging.DEBUG, files=len(self.names))
        if taken:
            raise NameExists(f"already in new/, not published: {', '.join(map(repr, taken))}")
        return self.names
