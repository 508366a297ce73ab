"""Kofa's data center API (``waeup.kofa.datacenter``) over :mod:`entrepot.datacenter`.

``DataCenter(storage=None)`` keeps the old names: ``storage``,
``deleted_path``, ``graduated_path``, ``max_files``, ``setStoragePath``,
``getPendingFiles``, ``getFinishedFiles``, ``getLogFiles`` and
``distProcessedFiles``.  Listed files are :class:`DataCenterFile` objects
(:class:`LogFile` for logs) described when they are made, as in Kofa.  As
in Kofa, moving the storage copies the files and leaves the old folder in
place.  Which files are listed is told in :mod:`entrepot.compat.kofa_listing`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from entrepot.compat.kofa_listing import (
    Entry,
    Folder,
    FolderIsLink,
    is_listed_log,
    is_pending_name,
    newest_finished,
    newest_first,
    regular_files,
    report_link,
)
from entrepot.datacenter.imports.placement import (
    distribute,
    place,
    store_pending_rows,
    store_source,
)
from entrepot.datacenter.listing import FileInfo
from entrepot.datacenter.storage import StorageTree, move_storage
from entrepot.durable import NotRegularFile
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: Kofa's ``DataCenter.max_files``: how many finished files are listed, newest first.
MAX_FINISHED_FILES = 100


class DataCenterFile:
    """A file of the data center, described when the object is made.

    As in Kofa, ``size`` and ``uploaddate`` (display strings) and ``lines``
    are attributes taken then; the ``get…`` methods look again.  Unlike
    Kofa, the file is never read through a symbolic link: a link is refused
    with :class:`~entrepot.durable.NotRegularFile` (an ``OSError``).  A
    listed file is looked at in the folder ``within`` it was listed, opened
    anew each time: a subfolder of the storage swapped for a link is refused
    with :class:`~entrepot.compat.kofa_listing.FolderIsLink` (an ``OSError``).
    The folder of a ``context`` given without ``within`` is the caller's.
    """

    def __init__(
        self,
        context: str | os.PathLike[str],
        folder_name: str = "",
        *,
        within: Folder | None = None,
    ) -> None:
        self.context = os.fspath(context)
        self.name = os.path.basename(self.context)
        self.rel_path = os.path.join(folder_name, self.name)
        self._folder = within or Folder(Path(os.path.dirname(self.context)), trusted=True)
        self.size = self.getSize()
        self.uploaddate = self.getDate()
        self.lines = self.getLinesNumber()

    def _info(self) -> FileInfo:
        found = self._folder.lstat(self.name)
        return FileInfo(Path(self.context), found.st_size, found.st_mtime)

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
        with open(self._folder.open_regular(self.name), "rb") as handle:
            return sum(1 for _ in handle)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} {self.rel_path!r}>"


class LogFile(DataCenterFile):
    """A log of ``logs/`` with the markers Kofa read from it.

    A line ``name: text`` sets the marker ``name`` (lower case) to ``text``
    (the last such line wins): ``user``, ``mode``, ``processed`` and
    ``source`` give ``userid``, ``mode``, ``stats`` and ``source``.  As in
    Kofa, lines are broken at every Unicode line boundary and ``rel_path``
    is the bare name.  Unlike Kofa, which failed on a log that was not
    UTF-8, bytes that do not decode are read as U+FFFD.
    """

    def __init__(self, context: str | os.PathLike[str], *, within: Folder | None = None) -> None:
        super().__init__(context, within=within)
        self._markers = _read_markers(self._folder.open_regular(self.name))
        self.userid = self.getUserId()
        self.mode = self.getMode()
        self.stats = self.getStats()
        self.source = self.getSourcePath()

    def getUserId(self) -> str:
        return self._markers.get("user") or "<UNKNOWN>"

    def getMode(self) -> str:
        return self._markers.get("mode") or "<NOT SET>"

    def getStats(self) -> str:
        return self._markers.get("processed") or "<Info not avail.>"

    def getSourcePath(self) -> str | None:
        return self._markers.get("source") or None


def _read_markers(fd: int) -> dict[str, str]:
    markers = {}
    with open(fd, encoding="utf-8", errors="replace", newline="") as handle:
        for physical in handle:
            for line in physical.splitlines():
                name, colon, text = line.strip().partition(":")
                if colon:
                    markers[name.lower()] = text
    return markers


_File = TypeVar("_File", bound=DataCenterFile)


def _all_described(
    make: Callable[..., _File], folder: Folder, entries: list[Entry], *args: str
) -> list[_File]:
    """``make(path, *args)`` for each entry listed, but for files gone or made links meanwhile.

    A folder made a link meanwhile is listed as empty, as it would have been
    had it been a link already.
    """
    described = []
    for path, _ in entries:
        try:
            described.append(make(path, *args, within=folder))
        except (FileNotFoundError, NotRegularFile):
            continue
        except FolderIsLink:
            report_link(folder)
            return []
    return described


class DataCenter:
    """Kofa's data center: a storage folder with its subfolders."""

    #: How many finished files :meth:`getFinishedFiles` lists (Kofa's ``max_files``).
    max_files = MAX_FINISHED_FILES

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

    def getPendingFiles(self, sort: str = "name") -> list[DataCenterFile]:
        """The ``*.csv`` files waiting in the storage root, by name; newest first with ``'date'``.

        Any other ``sort`` gives the order by name, as in Kofa.  Only ``.csv``
        names are listed, as Kofa listed them: a ``.csv.gz`` upload is
        Entrepôt's own, for :meth:`entrepot.datacenter.DataCenter.files`,
        since code written for Kofa reads a listed file as plain CSV text.
        The root as configured may be a symbolic link: the operator chose it.
        """
        root = Folder(self._tree.root, trusted=True)
        entries = regular_files(root, is_pending_name)
        if sort == "date":
            entries = newest_first(entries)
        return _all_described(DataCenterFile, root, entries)

    def getFinishedFiles(self) -> list[DataCenterFile]:
        """The newest ``max_files`` ``*.finished.csv`` files of ``finished/``, newest first."""
        finished = Folder(self._tree.finished)
        entries = newest_finished(finished, self.max_files)
        return _all_described(DataCenterFile, finished, entries, "finished")

    def getLogFiles(self, exclude_backups: bool = True) -> list[LogFile]:
        """The logs of ``logs/`` by name, but ``payments.log``; backups only when asked.

        ``logs/`` is created when missing, as in Kofa; a link there, even a
        dangling one, is listed as empty (never followed to make a folder).
        """
        with contextlib.suppress(FileExistsError):
            self._tree.logs.mkdir()
        logs = Folder(self._tree.logs)
        entries = regular_files(logs, lambda name: is_listed_log(name, exclude_backups))
        return _all_described(LogFile, logs, entries)

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


__all__ = ["DataCenter", "DataCenterFile", "LogFile"]
