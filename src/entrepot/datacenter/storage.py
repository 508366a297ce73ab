"""The data center's folder tree, and moving it to a new place.

A data center root holds the uploaded CSV files waiting to be imported
(and the ``<name>.<mode>.pending.csv`` files of rows that failed) directly,
plus five folders::

    deleted/      CSV backups of rows removed by imports in ``remove`` mode
    finished/     sources imported completely, and ``*.finished.csv`` row files
    graduated/    CSV backups of rows moved out by ``retire``
    logs/         ``datacenter.log``, one line per import
    unfinished/   sources with rows still waiting in a pending file

Entries whose name starts with a dot (the state folder, import work
folders, temporary files) are the data center's own bookkeeping and never
appear in listings.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from entrepot.datacenter.csvfiles import copy_from, open_file
from entrepot.durable import create_fresh, fsync_dir, rename_noreplace
from entrepot.errors import DataCenterError, DataCenterNotFound, UnsafeEntry
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: The folders every data center root contains, in listing order.
SUBFOLDERS = ("deleted", "finished", "graduated", "logs", "unfinished")

#: Hidden folder holding the default SQLite database and import work folders.
STATE_FOLDER = ".state"


class _Folder:
    """A folder of the tree, named by the attribute that holds it: ``tree.finished``."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __set_name__(self, owner: type, name: str) -> None:
        self.parts = self.parts or (name,)

    def __get__(self, tree: StorageTree, owner: type | None = None) -> Path:
        return tree.root.joinpath(*self.parts)


@dataclass(frozen=True)
class StorageTree:
    """The paths of one data center root."""

    root: Path

    deleted: ClassVar[_Folder] = _Folder()
    finished: ClassVar[_Folder] = _Folder()
    graduated: ClassVar[_Folder] = _Folder()
    logs: ClassVar[_Folder] = _Folder()
    unfinished: ClassVar[_Folder] = _Folder()
    state: ClassVar[_Folder] = _Folder(STATE_FOLDER)
    #: Where imports keep their files until they are distributed.
    work: ClassVar[_Folder] = _Folder(STATE_FOLDER, "work")

    def ensure(self, *, create_root: bool = False) -> StorageTree:
        """Create the missing subfolders (and the root when ``create_root``)."""
        if create_root:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise DataCenterNotFound(f"the data center root {str(self.root)!r} does not exist")
        for name in SUBFOLDERS:
            (self.root / name).mkdir(exist_ok=True)
        return self

    def ensure_state(self) -> Path:
        """Create the hidden state folder on first use and return it."""
        self.work.mkdir(parents=True, exist_ok=True)
        return self.state


def move_storage(
    old: StorageTree,
    new_root: str | os.PathLike[str],
    *,
    take_files: bool = False,
    overwrite: bool = False,
    remove_old: bool = False,
) -> tuple[StorageTree, list[str]]:
    """Point the data center at ``new_root``, optionally taking the files along.

    Returns the new tree and the relative paths that could not be copied
    (they already existed at the destination and ``overwrite`` is false, or
    copying them failed).  Files are copied first; the old copies are
    removed only when ``remove_old`` is set and every file arrived, so an
    interrupted move never loses the only copy.
    """
    target = Path(new_root).absolute()
    if not target.exists():
        raise DataCenterNotFound(f"the new storage path {str(target)!r} does not exist")
    if not target.is_dir():
        raise DataCenterError(f"the new storage path {str(target)!r} is not a folder")
    new = StorageTree(target)
    old_resolved, new_resolved = old.root.resolve(), target.resolve()
    if old_resolved != new_resolved and (
        new_resolved.is_relative_to(old_resolved) or old_resolved.is_relative_to(new_resolved)
    ):
        raise DataCenterError(
            f"cannot move the storage from {str(old.root)!r} to {str(target)!r}: "
            "one folder lies inside the other"
        )
    not_copied: list[str] = []
    if take_files and old.root.is_dir() and old.root.resolve() != target.resolve():
        not_copied = _copy_tree(old.root, target, overwrite=overwrite)
        if remove_old and not not_copied:
            shutil.rmtree(old.root)
    new.ensure()
    log_event(
        logger,
        "datacenter.storage_moved",
        old=old.root,
        new=target,
        took_files=take_files,
        not_copied=len(not_copied),
    )
    return new, not_copied


def _copy_tree(src: Path, dst: Path, *, overwrite: bool) -> list[str]:
    not_copied: list[str] = []
    for folder, dirnames, filenames in os.walk(src):
        relative = Path(folder).relative_to(src)
        dest_folder = dst / relative
        dest_folder.mkdir(exist_ok=True)
        dirnames.sort()
        for name in sorted(filenames):
            source_file = Path(folder) / name
            dest_file = dest_folder / name
            if dest_file.exists() and not overwrite:
                not_copied.append(str(relative / name))
                continue
            try:
                copy_durably(source_file, dest_file)
            except (OSError, UnsafeEntry) as exc:
                log_event(
                    logger, "datacenter.copy_failed", logging.WARNING, path=source_file, error=exc
                )
                not_copied.append(str(relative / name))
        fsync_dir(dest_folder)
    return not_copied


def copy_durably(src: Path, dst: Path, *, replace: bool = True) -> None:
    """Copy ``src`` over ``dst`` through a temporary name, keeping times and mode.

    ``src`` is read as the file it is, never through a symbolic link
    (:class:`~entrepot.errors.UnsafeEntry`): a link planted in the data center is
    not turned into a copy of what it names.  A link at the temporary name is
    replaced, never written through.  ``replace=False``: a ``dst`` that exists
    is kept (:class:`FileExistsError`)."""
    tmp = dst.with_name(f".{dst.name}.copying")
    with open_file(src) as source, open(create_fresh(tmp), "wb") as out:
        copy_from(source, 0, out)
        info = os.fstat(source.fileno())
        os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
        os.utime(out.fileno(), ns=(info.st_atime_ns, info.st_mtime_ns))
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(tmp, dst)
        return
    try:
        rename_noreplace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def move_file(src: Path, dst: Path, *, replace: bool = True) -> None:
    """Move ``src`` to ``dst``, across file systems when needed.

    ``replace=False``: a ``dst`` that exists is kept, and the move refused
    (:class:`FileExistsError`) — for result files, which hold rows.
    """
    try:
        if replace:
            os.replace(src, dst)
        else:
            rename_noreplace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_durably(src, dst, replace=replace)
        os.unlink(src)
    fsync_dir(dst.parent)
