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

Two things differ, both for safety: a symbolic link is never listed (Kofa
followed it, and describing a file reads it: whoever can put a link into the
storage could have any file of the machine read), and a file that vanishes
while the folder is read is skipped instead of failing the whole listing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

#: A rotated log backup, as Kofa recognised it (ASCII digits only, as in Python 2).
_LOG_BACKUP = re.compile(r"^.+\.\d+$", re.ASCII)

#: Kofa's payment log holds payment details: its log listing always left it out.
PAYMENTS_LOG = "payments.log"

Entry = tuple[Path, os.stat_result]


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


def regular_files(folder: Path, accept: Callable[[str], bool]) -> list[Entry]:
    """The regular files of ``folder`` whose name ``accept`` takes, by name, with their stat.

    ``[]`` when ``folder`` does not exist.  Links, folders, FIFOs and files
    gone by the time they are looked at are left out.
    """
    return [entry for entry in _entries(folder, accept) if stat.S_ISREG(entry[1].st_mode)]


def newest_finished(folder: Path, max_files: int) -> list[Entry]:
    """Kofa's finished listing: the newest ``max_files`` matching names, then files only."""
    entries = newest_first(_entries(folder, is_finished_name))
    return [entry for entry in entries[:max_files] if stat.S_ISREG(entry[1].st_mode)]


def newest_first(entries: list[Entry]) -> list[Entry]:
    """Newest first; files of the same time keep their order (by name), as in Kofa."""
    return sorted(entries, key=lambda entry: entry[1].st_mtime, reverse=True)


def _entries(folder: Path, accept: Callable[[str], bool]) -> list[Entry]:
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    entries = []
    for name in names:
        if not accept(name):
            continue
        path = folder / name
        try:
            entries.append((path, os.lstat(path)))
        except FileNotFoundError:
            # Moved away by an import running at the same time.
            continue
    return entries
