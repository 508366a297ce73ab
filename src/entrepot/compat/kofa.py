"""Kofa's data center API (``waeup.kofa.datacenter``) over :mod:`entrepot.datacenter`.

``DataCenter(storage=None)`` keeps the old names: ``storage``,
``deleted_path``, ``graduated_path``, ``setStoragePath``,
``getPendingFiles``, ``getFinishedFiles``, ``getLogFiles`` and
``distProcessedFiles``; listed files are :class:`DataCenterFile` objects
with ``getSize()`` and ``getDate()``.  As in Kofa, moving the storage
copies the files and leaves the old folder in place.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from entrepot.datacenter.imports.placement import (
    distribute,
    place,
    store_pending_rows,
    store_source,
)
from entrepot.datacenter.listing import (
    FileInfo,
    SortKey,
    is_finished_rows_name,
    list_files,
    sort_files,
)
from entrepot.datacenter.storage import StorageTree, move_storage
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

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

        A file given that is not there is logged as a warning and skipped, as
        in Kofa.  When the result files were written in a folder of their own
        outside the storage (a processor's temporary folder), that folder is
        removed afterwards; see :func:`_processor_folder` for the folders that
        never are.
        """
        self._tree.ensure()
        source = Path(source_path)
        finished = Path(finished_file)
        pending = Path(pending_file) if pending_file is not None else None
        for given in (source, finished, pending):
            if given is not None and not given.is_file():
                log_event(logger, "kofa.no_such_file", logging.WARNING, path=given)
        if finished.is_file():
            distribute(self._tree, successful, source, finished, pending, mode)
        else:
            placement = place(self._tree, source, mode)
            store_pending_rows(placement, pending)
            store_source(self._tree, placement, successful)
        folder = _processor_folder(finished_file, self._tree.root)
        if folder is not None:
            shutil.rmtree(folder)


def _processor_folder(finished_file: str | os.PathLike[str], storage: Path) -> Path | None:
    """The temporary folder ``finished_file`` was written in, if it may be removed.

    Kofa removed the folder of ``finished_file`` whenever it lay outside the
    storage.  Only a folder named in ``finished_file`` itself is removed here
    (a bare file name names none: Kofa removed nothing then either), and
    never one that is a link, the current folder, the storage, the system's
    temporary folder or the home folder, nor one that holds any of them.
    """
    named = os.path.dirname(os.fspath(finished_file))
    if not named or os.path.islink(named) or not os.path.isdir(named):
        return None
    folder = Path(os.path.realpath(named))
    if folder.is_relative_to(os.path.realpath(storage)):
        return None
    kept = (os.getcwd(), storage, tempfile.gettempdir(), os.path.expanduser("~"))
    if any(Path(os.path.realpath(path)).is_relative_to(folder) for path in kept):
        return None
    return folder


__all__ = ["DataCenter", "DataCenterFile"]
