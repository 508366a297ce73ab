"""Kofa's data center API (``waeup.kofa.datacenter``) over :mod:`entrepot.datacenter`.

``DataCenter(storage=None)`` keeps the old names: ``storage``,
``deleted_path``, ``graduated_path``, ``setStoragePath``,
``getPendingFiles``, ``getFinishedFiles``, ``getLogFiles`` and
``distProcessedFiles``; listed files are :class:`DataCenterFile` objects
with ``getSize()`` and ``getDate()``.  As in Kofa, moving the storage
copies the files and leaves the old folder in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from entrepot.datacenter.imports.placement import distribute
from entrepot.datacenter.listing import (
    FileInfo,
    SortKey,
    is_finished_rows_name,
    list_files,
    sort_files,
)
from entrepot.datacenter.storage import StorageTree, move_storage

#: Kofa showed the most recent finished files only.
MAX_FINISHED_FILES = 20


class DataCenterFile:
    """A file of the data center, with its size and date as display strings."""

    def __init__(self, context: str | os.PathLike[str], folder_name: str = "") -> None:
        self.context = str(context)
        self.name = os.path.basename(self.context)
        self.rel_path = f"{folder_name}/{self.name}" if folder_name else self.name

    def _info(self) -> FileInfo:
        return FileInfo.of(Path(self.context))

    def getName(self) -> str:
        return self.name

    def getSize(self) -> str:
        """``'13 bytes'``, ``'1.50 kb'``, ``'2.00 MB'``."""
        return self._info().human_size

    def getDate(self) -> str:
        """Modification time, local, to the second."""
        return self._info().local_date

    def getTimeStamp(self) -> float:
        return self._info().mtime

    def getLinesNumber(self) -> int:
        with open(self.context, "rb") as handle:
            return sum(1 for _ in handle)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} {self.rel_path!r}>"


class DataCenter:
    """Kofa's data center: a storage folder with its subfolders."""

    def __init__(self, storage: str | os.PathLike[str] | None = None) -> None:
        if storage is None:
            storage = tempfile.mkdtemp()
        self._tree = StorageTree(Path(storage).absolute()).ensure(create_root=True)

    @property
    def storage(self) -> str:
        return str(self._tree.root)

    @property
    def deleted_path(self) -> str:
        return str(self._tree.deleted)

    @property
    def graduated_path(self) -> str:
        return str(self._tree.graduated)

    def setStoragePath(
        self, path: str | os.PathLike[str], move: bool = False, overwrite: bool = False
    ) -> list[str]:
        """Use ``path`` (which must exist); with ``move`` copy the files there first.

        Returns the files that could not be copied.  Raises ValueError when
        ``path`` does not exist, as the original did.
        """
        if not Path(path).is_dir():
            raise ValueError(f"The path given does not exist: {path}")
        self._tree, not_copied = move_storage(
            self._tree, path, take_files=move, overwrite=overwrite, remove_old=False
        )
        return not_copied

    def getPendingFiles(self, sort: SortKey = "name") -> list[DataCenterFile]:
        """CSV files waiting in the storage root, by name or newest first."""
        return [DataCenterFile(info.path) for info in list_files(self._tree.root, sort=sort)]

    def getFinishedFiles(self) -> list[DataCenterFile]:
        """The most recent ``*.finished.csv`` files, newest first."""
        infos = list_files(self._tree.finished, accept=is_finished_rows_name, sort="date")
        return [DataCenterFile(info.path, "finished") for info in infos[:MAX_FINISHED_FILES]]

    def getLogFiles(self, exclude_backups: bool = True) -> list[DataCenterFile]:
        """Files of ``logs/``, by name; rotated backups only when asked."""
        infos = list_files(
            self._tree.logs,
            accept=lambda name: not exclude_backups or not name.rsplit(".", 1)[-1].isdigit(),
        )
        return [DataCenterFile(info.path, "logs") for info in sort_files(infos, "name")]

    def distProcessedFiles(
        self,
        successful: bool,
        source_path: str | os.PathLike[str],
        finished_file: str | os.PathLike[str],
        pending_file: str | os.PathLike[str] | None,
        mode: str = "create",
        move_orig: bool = True,
    ) -> None:
        """Put a processed source and its result files into their final places.

        When the result files were written outside the storage (a temporary
        folder of the processor), that folder is removed afterwards.
        """
        self._tree.ensure()
        finished = Path(finished_file)
        distribute(
            self._tree,
            successful,
            Path(source_path),
            finished,
            Path(pending_file) if pending_file is not None else None,
            mode,
        )
        temp_dir = finished.parent.absolute()
        if not temp_dir.is_relative_to(self._tree.root) and temp_dir.is_dir():
            shutil.rmtree(temp_dir)


__all__ = ["DataCenter", "DataCenterFile"]
