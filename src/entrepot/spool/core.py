"""A durable, lock-free spool: write in ``tmp/``, publish to ``new/``, finish in ``cur/``.

The layout follows maildir.  A producer writes a file in ``tmp/`` under a
name unique to its host, process and moment, syncs it, and renames it into
``new/`` — so a file is visible in ``new/`` only when it is complete and, by
default, durable.  A consumer *claims* a file by renaming it from ``new/``
into ``claimed/`` under a fresh token: a rename succeeds for exactly one
caller, so concurrent consumers (threads or processes) never share a file and
need no lock.  The consumer then marks the claim done (``cur/``) or releases
it back to ``new/``.  A consumer that dies while holding a claim strands
nothing: :meth:`Spool.recover` gives back to ``new/`` the claims of dead
consumers of this host at once and any claim older than the lease, and
removes stale files from ``tmp/``.

Every caller-supplied name is checked by :func:`entrepot.names.check_name`,
so no name can leave the spool.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import logging
import os
import shutil
import stat
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from entrepot.durable import rename_noreplace, write_file
from entrepot.errors import ClaimLost, EntryNotFound, InvalidName, NameExists, SpoolLayoutError
from entrepot.logs import log_event
from entrepot.names import check_name
from entrepot.spool.claims import CLAIM_AREA, CLAIM_ID, Claim, holder_gone, new_token
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport
from entrepot.spool.naming import free_name, unique_name
from entrepot.spool.writing import Batch, SpoolWriter

logger = logging.getLogger(__name__)


def _debug_enabled() -> bool:
    # Per-file lines are debug lines; checking first keeps the hot path free of them.
    return logger.isEnabledFor(logging.DEBUG)


#: The areas :meth:`Spool.prepare` creates.
AREAS = ("tmp", "new", "cur")
#: Default age after which an abandoned ``tmp/`` file is removed by :meth:`Spool.recover`.
STALE_TMP_AGE = 36 * 3600.0
#: Default lease of a claim, in seconds.
CLAIM_LEASE = 15 * 60.0


class Spool:
    """A spool folder with the areas ``tmp/``, ``new/`` and ``cur/`` (and any others you name).

    ``durable=False`` skips every fsync: fast, for data that may be lost on a
    power cut.  ``lease`` is how long a claim may be held before
    :meth:`recover` hands the file to someone else; ``stale_tmp_age`` how old an
    unfinished ``tmp/`` file must be before :meth:`recover` removes it.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durable: bool = True,
        lease: float = CLAIM_LEASE,
        stale_tmp_age: float = STALE_TMP_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.durable = durable
        self.lease = lease
        self.stale_tmp_age = stale_tmp_age
        self._clock = clock
        self._ready_areas: set[str] = set(AREAS)
        self._folders: dict[str, str] = {}
        # Folder descriptors kept open so that syncing a folder is one system call.
        self._folder_fds: dict[str, int] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._folder_fds)

    def __repr__(self) -> str:
        return f"Spool({str(self.root)!r}, durable={self.durable})"

    def close(self) -> None:
        """Release the folder descriptors this object keeps; it stays usable."""
        _close_all(self._folder_fds)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- layout ----------------------------------------------------------------

    def prepare(self) -> Self:
        """Create the root and the ``tmp``, ``new`` and ``cur`` areas; harmless when they exist."""
        for area in AREAS:
            self._make_area(self.root / area)
        # Folders may have been made anew: never sync through a descriptor of an old
        # one, and make the other areas again when next needed.
        self.close()
        self._ready_areas = set(AREAS)
        return self

    def area(self, area: str) -> Path:
        """The folder of ``area``; the name is checked."""
        return self.root / check_name(area, what="area")

    def path(self, area: str, name: str) -> Path:
        """The path of file ``name`` in ``area``; both names are checked."""
        return self.area(area) / check_name(name)

    def _folder(self, area: str) -> str:
        """The folder of ``area`` as a string, the name checked once per spool object."""
        folder = self._folders.get(area)
        if folder is None:
            folder = self._folders[area] = os.path.join(self.root, check_name(area, what="area"))
        return folder

    def _sync(self, folder: str) -> None:
        """Make the entries of ``folder`` durable (nothing in non-durable mode)."""
        if not self.durable:
            return
        fd = self._folder_fds.get(folder)
        if fd is None:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._folder_fds[folder] = fd
        os.fsync(fd)

    def _ensure_area(self, area: str) -> str:
        """The folder of ``area``, created the first time this spool object needs it."""
        folder = self._folder(area)
        if area not in self._ready_areas:
            self._make_area(Path(folder))
            self._ready_areas.add(area)
        return folder

    def _make_area(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise SpoolLayoutError(
                f"cannot create spool area {path}: a file is in the way"
            ) from exc
        if not path.is_dir():
            raise SpoolLayoutError(f"spool area {path} is not a folder")

    # -- producing -------------------------------------------------------------

    @contextmanager
    def writer(self, name: str | None = None, *, area: str = "new") -> Iterator[SpoolWriter]:
        """Write a file in ``tmp/`` and publish it into ``area`` when the block succeeds.

        On an exception the temporary file is removed and nothing is published.
        """
        final = check_name(name) if name is not None else unique_name()
        target = self.area(area)
        tmp_path = self.root / "tmp" / unique_name()
        file = tmp_path.open("xb")
        handle = SpoolWriter(file, final, tmp_path)
        try:
            yield handle
            file.flush()
            if self.durable:
                os.fsync(file.fileno())
            file.close()
            handle.path = Path(self._publish_tmp(tmp_path, target, final))
        except BaseException:
            file.close()
            tmp_path.unlink(missing_ok=True)
            raise

    def publish_bytes(self, data: bytes, name: str | None = None, *, area: str = "new") -> str:
        """Publish ``data`` as a new file; return its name."""
        final = check_name(name) if name is not None else unique_name()
        target = self._folder(area)
        tmp_path = f"{self._folder('tmp')}/{unique_name()}"
        try:
            write_file(tmp_path, data, durable=self.durable)
            self._publish_tmp(tmp_path, target, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            raise
        return final

    def publish_file(
        self,
        source: str | os.PathLike[str],
        name: str | None = None,
        *,
        link: bool = False,
        area: str = "new",
    ) -> str:
        """Publish a copy of ``source`` (or a hard link to it, with ``link=True``); return its name.

        The name defaults to the source's own file name.
        """
        source = Path(source)
        final = check_name(name if name is not None else source.name)
        tmp_path = self.root / "tmp" / unique_name()
        try:
            if link:
                os.link(source, tmp_path)
            else:
                shutil.copyfile(source, tmp_path)
            if self.durable:
                _fsync_path(tmp_path)
            self._publish_tmp(tmp_path, self.area(area), final)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return final

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Publish many files with one flush of the file system and one folder sync.

        Files added to the batch appear in ``new/`` together when the block
        ends without an exception; with one, none of them appear.
        """
        batch = Batch(self)
        try:
            yield batch
        except BaseException:
            batch.discard()
            raise
        batch.commit()

    def _publish_tmp(self, tmp_path: str | Path, target: str | Path, name: str) -> str:
        final = f"{target}/{name}"
        try:
            rename_noreplace(tmp_path, final)
        except FileExistsError:
            raise NameExists(f"{name!r} already exists in {os.path.basename(target)}/") from None
        except FileNotFoundError:
            if not os.path.isdir(target):
                raise SpoolLayoutError(f"spool area {target} is missing: prepare() it") from None
            raise
        if self.durable:
            self._sync(os.fspath(target))
        if _debug_enabled():
            log_event(logger, "spool.published", logging.DEBUG, name=name, area=target)
        return final

    # -- consuming -------------------------------------------------------------

    def list(self, area: str = "new") -> list[Entry]:
        """The files of ``area``, oldest first (by modification time, then name)."""
        folder_name = self._folder(area)
        entries = []
        try:
            scan = os.scandir(folder_name)
        except FileNotFoundError:
            return []
        with scan:
            for item in scan:
                if item.name.startswith("."):
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # taken by someone else while we looked
                if stat.S_ISREG(st.st_mode):
                    entries.append(Entry(item.name, area, folder_name, st.st_size, st.st_mtime))
        entries.sort(key=lambda entry: (entry.mtime, entry.name))
        return entries

    def names(self, area: str = "new") -> builtins.list[str]:
        """The names of the files in ``area``, oldest first."""
        return [entry.name for entry in self.list(area)]

    def claim(self, name: str | None = None) -> Claim | None:
        """Take one file out of ``new/`` — the named one, or the oldest — or None if there is none.

        Among any number of concurrent callers exactly one gets each file.
        """
        if name is not None:
            return self._try_claim(check_name(name))
        for entry in self.list("new"):
            claim = self._try_claim(entry.name)
            if claim is not None:
                return claim
        return None

    def claims(self, limit: int | None = None) -> Iterator[Claim]:
        """Claim files from ``new/`` oldest first until it is empty (or ``limit`` are claimed)."""
        taken = 0
        while limit is None or taken < limit:
            names = self.names("new")
            progress = False
            for name in names:
                claim = self._try_claim(name)
                if claim is None:
                    continue
                progress = True
                taken += 1
                yield claim
                if limit is not None and taken >= limit:
                    return
            if not progress:
                return

    def claim_by_id(self, claim_id: str) -> Claim:
        """Rebuild a held claim from its :attr:`Claim.id` (for example one a command printed)."""
        match = CLAIM_ID.match(claim_id)
        if match is None:
            raise InvalidName(f"{claim_id!r} is not a claim id")
        claim = Claim(self, check_name(match.group(2)), match.group(1))
        if not claim.path.exists():
            raise ClaimLost(f"claim {claim_id!r} is not held")
        return claim

    def held_claims(self) -> builtins.list[Claim]:
        """Every claim currently held, by any consumer."""
        claims = []
        for entry in self.list(CLAIM_AREA):
            match = CLAIM_ID.match(entry.name)
            if match:
                claims.append(Claim(self, match.group(2), match.group(1)))
        return claims

    def _try_claim(self, name: str) -> Claim | None:
        self._ensure_area(CLAIM_AREA)
        claim = Claim(self, name, new_token())
        try:
            # rename() moves the file for exactly one caller; the others get ENOENT.
            os.rename(f"{self._folder('new')}/{name}", claim.file)
        except FileNotFoundError:
            return None
        if _debug_enabled():
            log_event(logger, "spool.claimed", logging.DEBUG, name=name, claim=claim.token)
        return claim

    def _finish(self, claim: Claim, area: str) -> Path:
        target = self._ensure_area(area)
        final = f"{target}/{claim.name}"
        while True:
            try:
                rename_noreplace(claim.file, final)
                break
            except FileNotFoundError:
                raise ClaimLost(
                    f"claim on {claim.name!r} was lost: its lease expired and it was recovered"
                ) from None
            except FileExistsError:
                if area == "new":
                    raise NameExists(f"{claim.name!r} already exists in new/") from None
                # Done files never overwrite an earlier one of the same name: they get a suffix.
                final = free_name(target, claim.name)
        self._sync(target)
        event = "spool.released" if area == "new" else "spool.done"
        log_event(logger, event, logging.DEBUG, name=claim.name, area=area)
        return Path(final)

    # -- moving ----------------------------------------------------------------

    def move(self, name: str, source: str, destination: str) -> Path:
        """Move file ``name`` from one area to another; an existing file there is an error."""
        src = f"{self._folder(source)}/{check_name(name)}"
        target = self._ensure_area(destination)
        dst = f"{target}/{name}"
        try:
            rename_noreplace(src, dst)
        except FileNotFoundError:
            raise EntryNotFound(f"no file {name!r} in {source}/") from None
        except FileExistsError:
            raise NameExists(f"{name!r} already exists in {destination}/") from None
        if self.durable:
            self._sync(target)
        return Path(dst)

    def copy(self, name: str, source: str, destination: str) -> Path:
        """Copy file ``name`` into another area, atomically and without overwriting."""
        src = self.path(source, name)
        dst_area = self._ensure_area(destination)
        if not src.is_file():
            raise EntryNotFound(f"no file {name!r} in {source}/")
        self.publish_file(src, name, area=destination)
        return Path(dst_area, name)

    def remove(self, name: str, area: str) -> None:
        """Delete file ``name`` from ``area``."""
        try:
            self.path(area, name).unlink()
        except FileNotFoundError:
            raise EntryNotFound(f"no file {name!r} in {area}/") from None

    # -- upkeep ----------------------------------------------------------------

    def stats(self) -> dict[str, AreaStats]:
        """Files and bytes per area, for every area present."""
        result = {}
        areas = sorted({*AREAS, *(p.name for p in _subfolders(self.root))})
        for area in areas:
            entries = self.list(area)
            result[area] = AreaStats(len(entries), sum(entry.size for entry in entries))
        return result

    def recover(
        self, *, stale_tmp_age: float | None = None, lease: float | None = None
    ) -> RecoveryReport:
        """Remove abandoned ``tmp/`` files and return claims to ``new/``.

        A claim goes back when its lease has run out, or at once when its
        holder was a process of this host that has died.  Safe to run at any
        time and from several processes at once.
        """
        now = self._clock()
        tmp_age = self.stale_tmp_age if stale_tmp_age is None else stale_tmp_age
        lease = self.lease if lease is None else lease
        report = RecoveryReport()
        for entry in self.list("tmp"):
            try:
                st = entry.path.stat()
            except FileNotFoundError:
                continue
            # A second link means a fallback publish (link, unlink) stopped half-way:
            # the published copy exists, this name is just a leftover.
            if st.st_nlink > 1 or now - st.st_mtime >= tmp_age:
                entry.path.unlink(missing_ok=True)
                report.tmp_removed.append(entry.name)
        for claim in self.held_claims():
            try:
                changed = claim.path.stat().st_ctime
            except FileNotFoundError:
                continue
            if now - changed < lease and not holder_gone(claim.token):
                continue
            try:
                self._finish(claim, "new")
            except (ClaimLost, NameExists) as exc:
                log_event(logger, "spool.recover_skipped", logging.WARNING, claim=claim.id, why=exc)
                continue
            report.claims_released.append(claim.name)
        if report.tmp_removed or report.claims_released:
            log_event(
                logger,
                "spool.recovered",
                logging.INFO,
                root=self.root,
                tmp_removed=len(report.tmp_removed),
                claims_released=len(report.claims_released),
            )
        return report


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _subfolders(root: Path) -> Iterator[Path]:
    try:
        for item in root.iterdir():
            if item.is_dir() and not item.name.startswith("."):
                yield item
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno != errno.ENOTDIR:
            raise


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()
