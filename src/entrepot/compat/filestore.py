"""``gocept.filestore``'s ``FileStore`` as a facade over :class:`entrepot.spool.Spool`.

The old API keeps working: ``prepare()`` makes ``tmp/``, ``new/`` and
``cur/``; ``create()`` opens a file in ``tmp/``; ``move``, ``copy`` and
``remove`` work between areas, given a name or a full path as ``list()``
returns it; ``list()`` returns full paths.  Unlike the original, names are
checked (no ``..`` or ``/`` can leave the store, and a full path must lie in
the area named with it), a move or copy never silently overwrites an
existing file, and no symbolic link is followed out of the store: ``create()``
replaces a link found under its name rather than write through it, an area
that is a link is refused, and ``list()`` leaves links out.  Where the
original failed with an OSError, so does the facade, with these error
classes (each also a :class:`~entrepot.errors.SpoolError`):

* :class:`AreaNotFound` (a FileNotFoundError): the area named does not exist;
* :class:`NameTaken` (a FileExistsError): the move or copy would replace a file;
* :class:`FolderInTheWay` (a FileExistsError): ``prepare()`` found a file
  where a folder should be.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import IO, Any

from entrepot.errors import InvalidName, NameExists, SpoolLayoutError, UnsafeEntry
from entrepot.spool import Spool

__all__ = ["AreaNotFound", "FileStore", "FolderInTheWay", "NameTaken"]


class AreaNotFound(SpoolLayoutError, FileNotFoundError):
    """The store has no such area (the original's rename or listdir failed the same way)."""


class NameTaken(NameExists, FileExistsError):
    """The destination area already has a file of that name: it is kept, not replaced."""


class FolderInTheWay(SpoolLayoutError, FileExistsError):
    """A file stands where the store or one of its areas should be."""


class FileStore:
    """A folder with ``tmp``, ``new`` and ``cur`` areas shared by several processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # The original never synced; keep its speed, the spool offers durability when asked.
        self._spool = Spool(self.path, durable=False)

    def prepare(self) -> None:
        """Create the ``tmp``, ``new`` and ``cur`` areas (nothing happens if they exist).

        A file where a folder should be is :class:`FolderInTheWay`, an OSError as the
        original's ``os.mkdir`` raised, rather than an area that fails at first use.
        """
        try:
            self._spool.prepare()
        except SpoolLayoutError as exc:
            raise FolderInTheWay(str(exc)) from exc

    def create(self, name: str, mode: str = "w") -> IO[Any]:
        """Open a new file ``name`` in the ``tmp`` area for writing.

        Opened in the area's folder, itself opened without following a link,
        and never through a link: with ``"w"`` whatever had the name is
        replaced by a new file; another mode refuses a link (UnsafeEntry).
        """
        path = os.fspath(self._spool.path("tmp", name))
        folder = self._area_descriptor("tmp")

        def opener(_: str, flags: int) -> int:
            if flags & os.O_TRUNC:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=folder)
                flags |= os.O_EXCL
            try:
                return os.open(name, flags | os.O_NOFOLLOW, 0o666, dir_fd=folder)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UnsafeEntry(f"{path!r} is a symbolic link: refused") from None
                raise

        try:
            return open(path, mode, opener=opener)
        finally:
            os.close(folder)

    def move(self, name: str, src: str, dst: str) -> None:
        """Move file ``name`` from area ``src`` to area ``dst`` atomically.

        Into an area that does not exist: :class:`AreaNotFound`, as the original's
        rename failed (none is made); onto an existing file: :class:`NameTaken`.
        """
        entry = self._entry_name(name, src)
        self._check_areas(src, dst)
        self._require_area(dst)
        try:
            self._spool.move(entry, src, dst)
        except NameExists as exc:
            raise NameTaken(str(exc)) from None

    def copy(self, name: str, src: str, dst: str) -> None:
        """Copy file ``name`` from area ``src`` to area ``dst``.

        The original's ``shutil.copy`` replaced a file already there; the copy is
        refused instead (:class:`NameTaken`, a FileExistsError) and that file kept.
        """
        entry = self._entry_name(name, src)
        self._check_areas(src, dst)
        self._require_area(dst)
        try:
            self._spool.copy(entry, src, dst)
        except NameExists as exc:
            raise NameTaken(str(exc)) from None

    def remove(self, name: str, area: str) -> None:
        """Delete file ``name`` from ``area``."""
        entry = self._entry_name(name, area)
        self._check_areas(area)
        self._spool.remove(entry, area)

    def list(self, area: str) -> list[str]:
        """The full paths of the entries of ``area``, sorted by name.

        Every entry, as the original listed them (folders too), but for symbolic
        links, whose path would lead out of the store, and names starting with a
        dot, which are the spool's own.  A missing area is :class:`AreaNotFound`.
        """
        folder = os.fspath(self._spool.area(area))
        descriptor = self._area_descriptor(area)
        try:
            with os.scandir(descriptor) as scan:
                names = [e.name for e in scan if not e.name.startswith(".") and not e.is_symlink()]
        finally:
            os.close(descriptor)
        return [os.path.join(folder, name) for name in sorted(names)]

    def _entry_name(self, name: str, area: str) -> str:
        """``name``, or the file name of a full path into ``area`` (as :meth:`list` gives it).

        The original took the last part of any path; a path into another
        folder is refused here (InvalidName) rather than read as a name of
        ``area``.
        """
        folder, base = os.path.split(name)
        if not folder:
            return name
        if os.path.abspath(folder) != os.path.abspath(self._spool.area(area)):
            raise InvalidName(f"{name!r} is not a file of area {area}/ of {self.path}")
        return base

    def _check_areas(self, *areas: str) -> None:
        """Refuse an area that is a symbolic link: nothing is moved out of the store."""
        for area in areas:
            self._spool.areas.check_area(area)

    def _require_area(self, area: str) -> None:
        """Refuse an area that does not exist: the original made none on the way."""
        if not os.path.isdir(self._spool.area(area)):
            raise AreaNotFound(f"no area {area}/ in {self.path}")

    def _area_descriptor(self, area: str) -> int:
        """The folder of ``area``, opened without following a link (the spool's own rule)."""
        try:
            return self._spool.areas.open_area(area)
        except FileNotFoundError:
            raise AreaNotFound(f"no area {area}/ in {self.path}") from None
