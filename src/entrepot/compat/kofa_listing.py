"""Which files Kofa's data center listed, and in which order.

The rules are Kofa's own, name for name, because pages and scripts written
for Kofa rely on them:

* pending files are the names ending in ``.csv`` exactly — case counts,
  and a name starting with a dot is listed like any other;
* finished files match ``*.finished.csv``; the newest ``max_files`` of the
  names that match are taken, then those that are not files are dropped;
* log files are every file of ``logs/`` but ``payments.log``, and a rotated
  backup — a name ending in a dot and digits after at least one other
  character (``app.log.1``, not ``123`` nor ``.1``) — only when asked.

Two things differ, both for safety: a symbolic link is never listed nor
followed (Kofa followed it, and describing a file reads it: whoever can put a
link into the storage could have any file of the machine read), and a file
that vanishes while the folder is read is skipped instead of failing the whole
listing.  That holds for the folders too: a subfolder of the storage
(``logs/``, ``finished/``) that is a link is listed as empty, with a warning
``kofa.folder_is_link``, and files are read relative to their folder opened
without following a link (:class:`Folder`).  Only the storage root as
configured may be a link: the operator chose it.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from entrepot.durable import NotRegularFile, open_regular
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: A rotated log backup, as Kofa recognised it (ASCII digits only, as in Python 2).
_LOG_BACKUP = re.compile(r"^.+\.\d+$", re.ASCII)

#: Kofa's payment log holds payment details: its log listing always left it out.
PAYMENTS_LOG = "payments.log"

Entry = tuple[Path, os.stat_result]

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class FolderIsLink(OSError):
    """A subfolder of the storage is a symbolic link: never listed through nor read from."""


@dataclass(frozen=True)
class Folder:
    """A folder whose files are listed and read, each time opened anew.

    A subfolder of the storage is opened with ``O_NOFOLLOW``: one swapped
    for a link, even between the listing and the reading of its files, is
    refused with :class:`FolderIsLink`.  Only a ``trusted`` folder — the
    storage root as configured, or the folder a caller named — is followed.
    """

    path: Path
    trusted: bool = False

    @contextlib.contextmanager
    def opened(self) -> Iterator[int]:
        flags = _FOLDER_FLAGS if self.trusted else _FOLDER_FLAGS | os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags)
        except NotADirectoryError:
            # Linux answers a link opened with O_NOFOLLOW | O_DIRECTORY with ENOTDIR.
            if not self.trusted and os.path.islink(self.path):
                raise FolderIsLink(errno.ELOOP, "a symbolic link", os.fspath(self.path)) from None
            raise
        try:
            yield fd
        finally:
            os.close(fd)

    def lstat(self, name: str) -> os.stat_result:
        """The stat of the entry ``name`` itself (a link is not followed)."""
        with self.opened() as fd:
            return os.lstat(name, dir_fd=fd)

    def open_regular(self, name: str) -> int:
        """A descriptor of the regular file ``name``; :class:`NotRegularFile` for anything else."""
        with self.opened() as folder:
            try:
                return open_regular(name, follow=False, dir_fd=folder)
            except NotRegularFile as exc:
                raise NotRegularFile(exc.errno, exc.strerror, self._named(name)) from None

    def _named(self, name: str) -> str:
        return os.fspath(self.path / name)


def report_link(folder: Folder) -> None:
    """Log that ``folder`` was found to be a link, so it is listed as empty."""
    log_event(logger, "kofa.folder_is_link", logging.WARNING, folder=folder.path)


def is_pending_name(name: str) -> bool:
    """``x.csv`` only: not ``X.CSV``, not ``x.csv.gz`` (Kofa read plain CSV text)."""
    return name.endswith(".csv")


def is_finished_name(name: str) -> bool:
    return fnmatch.fnmatchcase(name, "*.finished.csv")


def is_listed_log(name: str, exclude_backups: object = True) -> bool:
    """Whether ``getLogFiles(exclude_backups)`` lists the log ``name``.

    Kofa compared ``exclude_backups`` with ``True``: only ``True`` (or ``1``)
    leaves the backups out, another true value such as ``'yes'`` does not.
    """
    if name == PAYMENTS_LOG:
        return False
    return not (exclude_backups == 1 and _LOG_BACKUP.match(name))


def regular_files(folder: Folder, accept: Callable[[str], bool]) -> list[Entry]:
    """The regular files of ``folder`` whose name ``accept`` takes, by name, with their stat.

    ``[]`` when ``folder`` does not exist or is a link it may not be.  Links,
    folders, FIFOs and files gone by the time they are looked at are left out.
    """
    return [entry for entry in _entries(folder, accept) if stat.S_ISREG(entry[1].st_mode)]


def newest_finished(folder: Folder, max_files: int) -> list[Entry]:
    """Kofa's finished listing: the newest ``max_files`` matching names, then files only."""
    entries = newest_first(_entries(folder, is_finished_name))
    return [entry for entry in entries[:max_files] if stat.S_ISREG(entry[1].st_mode)]


def newest_first(entries: list[Entry]) -> list[Entry]:
    """Newest first; files of the same time keep their order (by name), as in Kofa."""
    return sorted(entries, key=lambda entry: entry[1].st_mtime, reverse=True)


def _entries(folder: Folder, accept: Callable[[str], bool]) -> list[Entry]:
    try:
        with folder.opened() as fd:
            return _accepted(fd, folder.path, accept)
    except FileNotFoundError:
        return []
    except FolderIsLink:
        report_link(folder)
        return []


def _accepted(fd: int, path: Path, accept: Callable[[str], bool]) -> list[Entry]:
    entries = []
    for name in sorted(os.listdir(fd)):
        if not accept(name):
            continue
        try:
            entries.append((path / name, os.lstat(name, dir_fd=fd)))
        except FileNotFoundError:
            # Moved away by an import running at the same time.
            continue
    return entries
