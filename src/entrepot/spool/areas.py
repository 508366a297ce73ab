"""The folders of one spool on disk: the primitives every part of the spool is built on.

:class:`Areas` knows where each area is, creates an area the first time it
is needed, makes renames durable with one ``fsync`` of a folder descriptor
kept open, and does the three moves a spool makes — *publish* a complete
``tmp/`` file under its final name, *take* a file into ``claimed/``, and
*finish* a claimed file into another area.  :class:`~entrepot.spool.Spool`,
:class:`~entrepot.spool.Claim`, :class:`~entrepot.spool.Batch` and the
fetcher all go through it, so the rules (names checked, nothing
overwritten, folders synced) live in one place.  A :class:`SyncGroup`
finishes many claims with one folder sync for the lot (a shipper's moves
to ``cur/``).

One :class:`Areas` may be shared by many threads (a shipper's workers share
one spool): the descriptor cache takes a lock, and :meth:`Areas.close` never
closes a descriptor while another thread syncs through it.

Entries are opened with ``O_NOFOLLOW`` and checked to be regular files
(:func:`open_entry`): a symbolic link swapped into the spool is never read
through.  ``O_NOFOLLOW`` guards only a path's last part, so an area that is
itself a link is refused (:class:`~entrepot.errors.SpoolLayoutError`, as
the FileStore facade does): every move checks its areas first, and the
loops over an area's files (listing, recovery) work in the area's folder
opened without following a link (:meth:`Areas.open_area`).  Files are
never read, made, moved or deleted outside the spool through such a link.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import BinaryIO

from entrepot import durable
from entrepot.durable import rename_noreplace
from entrepot.errors import ClaimLost, InvalidName, NameExists, SpoolLayoutError, UnsafeEntry
from entrepot.logs import log_event
from entrepot.names import MAX_NAME_BYTES, check_name, shortened
from entrepot.spool.naming import free_name, unique_name

logger = logging.getLogger("entrepot.spool")

#: The areas :meth:`Areas.prepare` creates.
AREAS = ("tmp", "new", "cur")
#: Where claimed files wait while their claim is held.
CLAIM_AREA = "claimed"
#: Hex digits of a claim's token: a claim renames ``new/NAME`` to ``claimed/TOKEN-NAME``.
TOKEN_LENGTH = 16
#: How an area's folder is opened to work in it: never through a link.
_AREA_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: The longest name a spool keeps, in UTF-8 bytes: one that can still be claimed.
MAX_SPOOL_NAME_BYTES = MAX_NAME_BYTES - TOKEN_LENGTH - 1


def spool_name(name: object, *, what: str = "name") -> str:
    """``name`` checked (:func:`~entrepot.names.check_name`) as the name of a new file of a
    spool: short enough to take its claim's token (:data:`MAX_SPOOL_NAME_BYTES`), so that
    a file put into a spool can always be shipped.  :class:`InvalidName` otherwise."""
    checked = check_name(name, what=what)
    if len(checked.encode("utf-8")) > MAX_SPOOL_NAME_BYTES:
        raise InvalidName(
            f"{what} {shortened(checked)} is longer than {MAX_SPOOL_NAME_BYTES} bytes, the most "
            f"a spool keeps (a claim adds a {TOKEN_LENGTH + 1}-byte token to it)"
        )
    return checked


class Areas:
    """The area folders of the spool at ``root``; see the module docstring.

    ``durable=False`` makes :meth:`sync` a no-op.
    """

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self._ready = set(AREAS)
        self._folders: dict[str, str] = {}
        self.descriptors = FolderDescriptors()

    # -- where ---------------------------------------------------------------------

    def folder(self, area: str) -> str:
        """The folder of ``area`` as a string, the name checked once."""
        folder = self._folders.get(area)
        if folder is None:
            folder = self._folders[area] = os.path.join(self.root, check_name(area, what="area"))
        return folder

    def ensure(self, area: str) -> str:
        """The folder of ``area``, created the first time this object needs it; a link is
        refused (:meth:`check_area`)."""
        folder = self.folder(area)
        if area not in self._ready:
            make_folder(Path(folder))
            self._ready.add(area)
        else:
            self.check_area(area)
        return folder

    def check_area(self, area: str) -> str:
        """The folder of ``area``; :class:`SpoolLayoutError` when it is a symbolic link.

        A missing area passes: the move that needs it fails on its own.
        """
        folder = self.folder(area)
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return folder
        if stat.S_ISLNK(mode):
            raise linked_area(folder)
        return folder

    def open_area(self, area: str) -> int:
        """The folder of ``area`` opened to work in (the caller closes it), never through a
        link (:class:`SpoolLayoutError`); FileNotFoundError when it does not exist."""
        folder = self.folder(area)
        try:
            return os.open(folder, _AREA_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(folder):
                raise linked_area(folder) from None
            raise

    def prepare(self) -> None:
        """Create the root and the ``tmp``, ``new`` and ``cur`` areas."""
        for area in AREAS:
            make_folder(self.root / area)
        # Folders may have been made anew: never sync through a descriptor of an
        # old one, and make the other areas again when next needed.
        self.descriptors.close()
        self._ready = set(AREAS)

    def exists(self) -> bool:
        """True when the spool's root and its ``new/`` area are folders."""
        return os.path.isdir(self.folder("new"))

    def scratch(self) -> str:
        """A fresh, unused path in ``tmp/`` (the file is not created)."""
        return f"{self.check_area('tmp')}/{unique_name()}"

    # -- durability ----------------------------------------------------------------

    def sync(self, folder: str) -> None:
        """Make the entries of ``folder`` durable (nothing in non-durable mode)."""
        if self.durable:
            self.descriptors.fsync(folder)

    def close(self) -> None:
        self.descriptors.close()

    # -- the three moves -----------------------------------------------------------

    def publish(
        self, tmp_path: str | os.PathLike[str], name: str, area: str = "new", *, sync: bool = True
    ) -> str:
        """Rename the complete file ``tmp_path`` to ``area/name``, never over another file.

        ``name`` must be checked already.  Returns the final path.  With
        ``sync=False`` the caller syncs the folder itself (once for many files).
        """
        folder = self.check_area(area)
        final = f"{folder}/{name}"
        try:
            rename_noreplace(tmp_path, final)
        except FileExistsError:
            raise NameExists(f"{name!r} already exists in {area}/") from None
        except FileNotFoundError:
            if not os.path.isdir(folder):
                raise SpoolLayoutError(f"spool area {folder} is missing: prepare() it") from None
            raise
        if sync:
            self.sync(folder)
        if logger.isEnabledFor(logging.DEBUG):
            log_event(logger, "spool.published", logging.DEBUG, name=name, area=area)
        return final

    def take(self, name: str, token: str) -> str | None:
        """Move ``new/name`` into ``claimed/`` as ``token-name``; None if someone was first.

        Only regular files are taken: anything else (a link swapped in after a
        listing, a FIFO) is put back and :class:`UnsafeEntry` is raised; a name too
        long to take a token (another program's file) is :class:`InvalidName`.
        """
        held = f"{self.ensure(CLAIM_AREA)}/{token}-{name}"
        source = f"{self.check_area('new')}/{name}"
        try:
            # rename() moves the file for exactly one caller; the others get ENOENT.
            os.rename(source, held)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            raise InvalidName(
                f"{name!r} in new/ cannot be claimed: with its claim's token ({len(token) + 1} "
                "bytes) its name is longer than the file system allows"
            ) from None
        try:
            mode = os.lstat(held).st_mode
        except FileNotFoundError:
            return None  # recovered at once by someone else: not ours any more
        if not stat.S_ISREG(mode):
            with contextlib.suppress(OSError):
                rename_noreplace(held, source)
            log_event(logger, "spool.unsafe_entry", logging.WARNING, name=name, area="new")
            raise UnsafeEntry(f"{name!r} in new/ is not a regular file: refused")
        return held

    def finish(self, held: str, name: str, area: str, *, sync: bool = True) -> str:
        """Move a claimed file to ``area`` under ``name``; return its final path.

        Back in ``new/`` an existing name is an error; elsewhere (``cur/``)
        the file gets a free ``~2``, ``~3``… name instead.  With
        ``sync=False`` the caller syncs the folder (see :class:`SyncGroup`).
        """
        self.check_area(CLAIM_AREA)
        folder = self.ensure(area)
        final = f"{folder}/{name}"
        while True:
            try:
                rename_noreplace(held, final)
                break
            except FileNotFoundError:
                raise ClaimLost(
                    f"claim on {name!r} was lost: its lease expired and it was recovered"
                ) from None
            except FileExistsError:
                if area == "new":
                    raise NameExists(f"{name!r} already exists in new/") from None
                final = free_name(folder, name)
        if sync:
            self.sync(folder)
        event = "spool.released" if area == "new" else "spool.done"
        log_event(logger, event, logging.DEBUG, name=name, area=area)
        return final


class SyncGroup:
    """Claims finished together: each file moves at once, its folder is synced for many.

    Renaming a claimed file into ``cur/`` and syncing ``cur/`` after every
    file costs a journal commit per file, which on a busy disk sets the pace
    of a shipper.  A group renames each file when it is finished — so the
    move still happens only after the caller's own check (a verified remote
    copy) — and syncs the folders it moved files into once it holds
    ``max_files`` unsynced moves or its oldest is ``max_delay`` seconds old,
    and on :meth:`flush` (when its ``with`` block ends).

    A rename is atomic on disk: a power cut undoes an unsynced move
    entirely, leaving the file in ``claimed/`` (from where recovery hands it
    back to ``new/``), never in two places or none.  So a group bounds what
    a power cut can undo to its last ``max_files`` files or ``max_delay``
    seconds; a killed process loses nothing (the kernel keeps every rename).
    Safe to share between threads; a sync runs outside the lock, so the
    other threads go on moving files meanwhile.
    """

    def __init__(self, areas: Areas, *, max_files: int = 256, max_delay: float = 0.25) -> None:
        self.areas = areas
        self.max_files = max_files
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._folders: set[str] = set()
        self._unsynced = 0
        self._oldest = 0.0

    def finish(self, held: str, name: str, area: str) -> str:
        """:meth:`Areas.finish`, its folder synced with the group's other moves."""
        final = self.areas.finish(held, name, area, sync=False)
        now = time.monotonic()
        with self._lock:
            self._folders.add(os.path.dirname(final))
            if not self._unsynced:
                self._oldest = now
            self._unsynced += 1
            due = self._unsynced >= self.max_files or now - self._oldest >= self.max_delay
        if due:
            self.flush()
        return final

    def flush(self) -> None:
        """Make every move finished so far durable (one sync per folder)."""
        with self._lock:
            folders, self._folders = self._folders, set()
            self._unsynced = 0
        for folder in sorted(folders):
            self.areas.sync(folder)

    def __enter__(self) -> SyncGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()


class FolderDescriptors:
    """Folder descriptors kept open so that syncing a folder is one system call.

    Safe to share between threads: each folder is opened once, and
    :meth:`close` leaves a descriptor that a sync is using to that sync,
    which closes it when done — a closed descriptor number is never synced
    (it may already name another file).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._in_use: dict[int, int] = {}
        self._retired: set[int] = set()

    def fsync(self, folder: str) -> None:
        with self._lock:
            fd = self._open.get(folder)
            if fd is None:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                self._open[folder] = fd
            self._in_use[fd] = self._in_use.get(fd, 0) + 1
        try:
            os.fsync(fd)
        finally:
            with self._lock:
                users = self._in_use.pop(fd) - 1
                if users:
                    self._in_use[fd] = users
                elif fd in self._retired:
                    self._retired.discard(fd)
                    _close(fd)

    def close(self) -> None:
        """Close every descriptor (those in use as soon as their sync ends)."""
        with self._lock:
            for fd in self._open.values():
                if fd in self._in_use:
                    self._retired.add(fd)
                else:
                    _close(fd)
            self._open.clear()

    def __len__(self) -> int:
        return len(self._open)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def make_folder(path: Path) -> None:
    """Create ``path`` and its parents; a file or a link in the way is a layout error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise SpoolLayoutError(f"cannot create spool area {path}: a file is in the way") from exc
    if path.is_symlink():
        raise linked_area(path)
    if not path.is_dir():
        raise SpoolLayoutError(f"spool area {path} is not a folder")


def linked_area(folder: str | os.PathLike[str]) -> SpoolLayoutError:
    """The error for an area that is a symbolic link: worked through, it would lead out of
    the spool (recovery deleting old files in the link's target)."""
    name, root = os.path.basename(folder), os.path.dirname(folder)
    return SpoolLayoutError(f"area {name}/ of {root} is a symbolic link: refused")


def open_entry(
    path: str | os.PathLike[str], *, what: str = "spool file", buffering: int = -1
) -> BinaryIO:
    """Open ``path`` for reading without following a link; refuse anything but a regular
    file (:class:`~entrepot.errors.UnsafeEntry`).  ``buffering``: as :func:`open`'s."""
    try:
        fd = durable.open_regular(path, follow=False)
    except durable.NotRegularFile as exc:
        raise UnsafeEntry(f"{what} {os.fspath(path)!r} {exc.what}: refused") from None
    # The file object owns the descriptor from here on, and closes it if it fails (a
    # signal while it is made): closed here as well, the second close would fail, or
    # close a file another thread opened meanwhile under the same number.
    return os.fdopen(fd, "rb", buffering=buffering)


def descriptor_path(file: BinaryIO) -> str:
    """A path that reopens exactly the file behind ``file``, whatever its name became.

    ``/proc/self/fd/N`` names the open file itself, not a name in a folder:
    code that insists on opening a path (a target's ``upload``) reads the
    file that was checked, even if the name was swapped for a link since.
    """
    return f"/proc/self/fd/{file.fileno()}"
