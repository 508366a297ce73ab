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
removes stale files from ``tmp/``; a consumer at work on a claim for longer
than that renews it (:mod:`.renewal`).

Every caller-supplied name is checked by :func:`entrepot.names.check_name`,
so no name can leave the spool; only regular files are taken or read, never
a symbolic link, and an area that is a link is refused
(:class:`~entrepot.errors.SpoolLayoutError`).  The folder work itself is in
:mod:`entrepot.spool.areas`, writing in :mod:`.writing`, claims in
:mod:`.claims`, listing and recovery in :mod:`.upkeep`.
"""

from __future__ import annotations

import builtins
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Self

from entrepot.errors import (
    ClaimLost,
    EntryNotFound,
    InvalidName,
    SpoolNotFound,
    UnsafeEntry,
)
from entrepot.names import check_name
from entrepot.spool.areas import AREAS, CLAIM_AREA, Areas, spool_name
from entrepot.spool.claims import Claim, new_token, parse_claim_id
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport
from entrepot.spool.receipts import Receipts
from entrepot.spool.renewal import ClaimRenewer
from entrepot.spool.upkeep import area_stats, list_area
from entrepot.spool.upkeep import recover as recover_areas
from entrepot.spool.writing import Batch, Digest, SpoolWriter, writing
from entrepot.spool.writing import publish_bytes as write_bytes
from entrepot.spool.writing import publish_file as write_file

if TYPE_CHECKING:
    from entrepot.provenance.journal import Arrivals

__all__ = ["AREAS", "CLAIM_LEASE", "STALE_TMP_AGE", "Spool"]

#: Default age after which an abandoned ``tmp/`` file is removed by :meth:`Spool.recover`.
STALE_TMP_AGE = 36 * 3600.0
#: Default lease of a claim, in seconds.
CLAIM_LEASE = 15 * 60.0


class Spool:
    """A spool folder with the areas ``tmp/``, ``new/`` and ``cur/`` (and any others you name).

    ``durable=False`` skips every fsync: fast, for data that may be lost on a
    power cut.  ``provenance`` (a state folder, or an open provenance
    journal) records a ``received`` event for every file published — see
    :mod:`entrepot.spool.receipts`.  ``lease`` is how long a claim may be held before
    :meth:`recover` hands the file to someone else; ``stale_tmp_age`` how old an
    unfinished ``tmp/`` file must be before :meth:`recover` removes it, both
    measured on the file system's clock unless ``clock`` gives another
    (a test's, to pretend time has passed).  One spool object may be shared
    by threads.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durable: bool = True,
        lease: float = CLAIM_LEASE,
        stale_tmp_age: float = STALE_TMP_AGE,
        clock: Callable[[], float] | None = None,
        provenance: str | os.PathLike[str] | Arrivals | None = None,
    ) -> None:
        self.root = Path(root)
        self.areas = Areas(self.root, durable=durable)
        self.receipts = Receipts(provenance) if provenance is not None else None
        self.lease = lease
        self.stale_tmp_age = stale_tmp_age
        self._clock = clock
        self._finalizer = weakref.finalize(self, self.areas.descriptors.close)

    @property
    def durable(self) -> bool:
        """Whether files and folders are synced to disk."""
        return self.areas.durable

    @durable.setter
    def durable(self, value: bool) -> None:
        self.areas.durable = value

    def __repr__(self) -> str:
        return f"Spool({str(self.root)!r}, durable={self.durable})"

    def close(self) -> None:
        """Release the folder descriptors this object keeps (it stays usable) and the
        shared receipts file, if it opened it (then it records no more receipts)."""
        self.areas.close()
        receipts, self.receipts = self.receipts, None
        if receipts is not None:
            receipts.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- layout ----------------------------------------------------------------

    def prepare(self) -> Self:
        """Create the root and the ``tmp``, ``new`` and ``cur`` areas; harmless when they exist."""
        self.areas.prepare()
        return self

    def exists(self) -> bool:
        """True when this is a spool: the root and its ``new/`` area are folders."""
        return self.areas.exists()

    def check(self) -> Self:
        """This spool, or :class:`~entrepot.errors.SpoolNotFound` when :meth:`exists` is false.

        For code that must not create a spool by mistake (a typo in a path).
        """
        if not self.exists():
            what = "is not a spool (no new/ folder)" if self.root.is_dir() else "does not exist"
            raise SpoolNotFound(f"spool {self.root} {what}: create it with 'entrepot spool init'")
        return self

    def area(self, area: str) -> Path:
        """The folder of ``area``; the name is checked."""
        return self.root / check_name(area, what="area")

    def path(self, area: str, name: str) -> Path:
        """The path of file ``name`` in ``area``; both names are checked."""
        return self.area(area) / check_name(name)

    # -- producing -------------------------------------------------------------

    @contextmanager
    def writer(self, name: str | None = None, *, area: str = "new") -> Iterator[SpoolWriter]:
        """Write a file in ``tmp/`` and publish it into ``area`` when the block succeeds.

        On an exception the temporary file is removed and nothing is published.
        """
        digest = self.receipts.digest() if self.receipts else None
        with writing(self.areas, name, area, digest) as handle:
            yield handle
        if self.receipts is not None and handle.path is not None:
            self.receipts.received(self.root, str(handle.path), digest, "writer")

    def publish_bytes(self, data: bytes, name: str | None = None, *, area: str = "new") -> str:
        """Publish ``data`` as a new file; return its name."""
        published = write_bytes(self.areas, data, name, area)
        if self.receipts is not None:
            digest = self.receipts.digest()
            digest.update(data)
            self.receipts.received(self.root, str(self.path(area, published)), digest, "bytes")
        return published

    def publish_file(
        self,
        source: str | os.PathLike[str],
        name: str | None = None,
        *,
        link: bool = False,
        area: str = "new",
        digest: Digest | None = None,
    ) -> str:
        """Publish a copy of ``source`` (or a hard link to it, with ``link=True``); return its name.

        The name defaults to the source's own file name.  ``source`` must be a
        regular file: a symbolic link is refused, not followed.  ``digest`` (a
        :mod:`hashlib` object) is fed the bytes as they are copied, so that
        the caller has the file's checksum without reading it again.
        """
        if self.receipts is not None and digest is None and not link:
            digest = self.receipts.digest()
        published = write_file(self.areas, source, name, link=link, area=area, digest=digest)
        if self.receipts is not None:
            where = str(self.path(area, published))
            self.receipts.received(
                self.root, where, None if link else digest, os.path.abspath(source)
            )
        return published

    def adopt(self, tmp_path: str | os.PathLike[str], name: str, *, area: str = "new") -> str:
        """Publish a complete, durable file already in ``tmp/`` (see :meth:`scratch_path`)."""
        return self.areas.publish(tmp_path, spool_name(name), area)

    def scratch_path(self) -> Path:
        """A fresh path in ``tmp/`` to write a file at, then :meth:`adopt` it.

        Files left there by a writer that died are removed by :meth:`recover`.
        """
        return Path(self.areas.scratch())

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Publish many files with one flush of the file system and one folder sync.

        Files added to the batch appear in ``new/`` together when the block
        ends without an exception; with one, none of them appear.
        """
        batch = Batch(self.areas, self.receipts, self.root)
        try:
            yield batch
        except BaseException:
            batch.discard()
            raise
        batch.commit()

    # -- consuming -------------------------------------------------------------

    def list(self, area: str = "new") -> list[Entry]:
        """The regular files of ``area``, oldest first (by modification time, then name)."""
        return list_area(self.areas, area)

    def names(self, area: str = "new") -> builtins.list[str]:
        """The names of the files in ``area``, oldest first."""
        return [entry.name for entry in self.list(area)]

    def claim(self, name: str | None = None) -> Claim | None:
        """Take one file out of ``new/`` — the named one, or the oldest — or None if there is none.

        Among any number of concurrent callers exactly one gets each file.  A
        named entry that is not a regular file raises
        :class:`~entrepot.errors.UnsafeEntry`; the oldest-first search skips one.
        """
        if name is not None:
            return self._take(check_name(name))
        for entry in self.list("new"):
            claim = self._take_listed(entry.name)
            if claim is not None:
                return claim
        return None

    def claims(self, limit: int | None = None) -> Iterator[Claim]:
        """Claim files from ``new/`` oldest first until it is empty (or ``limit`` are claimed)."""
        taken = 0
        while limit is None or taken < limit:
            progress = False
            for name in self.names("new"):
                claim = self._take_listed(name)
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
        parsed = parse_claim_id(claim_id)
        if parsed is None:
            raise InvalidName(f"{claim_id!r} is not a claim id")
        claim = Claim(self.areas, check_name(parsed[1]), parsed[0])
        if not os.path.lexists(claim.file):
            raise ClaimLost(f"claim {claim_id!r} is not held")
        return claim

    def held_claims(self) -> builtins.list[Claim]:
        """Every claim currently held, by any consumer."""
        claims = []
        for entry in self.list(CLAIM_AREA):
            parsed = parse_claim_id(entry.name)
            if parsed:
                claims.append(Claim(self.areas, parsed[1], parsed[0]))
        return claims

    def renewer(self, lease: float | None = None) -> ClaimRenewer:
        """A :class:`~entrepot.spool.renewal.ClaimRenewer` that keeps the claims held
        through it from running out of ``lease`` (default: the spool's) while at work."""
        return ClaimRenewer(self.lease if lease is None else lease)

    def _take(self, name: str) -> Claim | None:
        token = new_token()
        if self.areas.take(name, token) is None:
            return None
        return Claim(self.areas, name, token)

    def _take_listed(self, name: str) -> Claim | None:
        # A listed file swapped for a link since is skipped: another file may be fine.
        try:
            return self._take(name)
        except UnsafeEntry:
            return None

    # -- moving ----------------------------------------------------------------

    def move(self, name: str, source: str, destination: str) -> Path:
        """Move file ``name`` from one area to another; an existing file there is an error."""
        src = f"{self.areas.check_area(source)}/{check_name(name)}"
        self.areas.ensure(destination)
        try:
            return Path(self.areas.publish(src, name, destination))
        except FileNotFoundError:
            raise EntryNotFound(f"no file {name!r} in {source}/") from None

    def copy(self, name: str, source: str, destination: str) -> Path:
        """Copy file ``name`` into another area, atomically and without overwriting."""
        src = self.path(source, name)
        self.areas.check_area(source)
        dst_area = self.areas.ensure(destination)
        if not src.is_file():
            raise EntryNotFound(f"no file {name!r} in {source}/")
        self.publish_file(src, name, area=destination)
        return Path(dst_area, name)

    def remove(self, name: str, area: str) -> None:
        """Delete file ``name`` from ``area``."""
        path = self.path(area, name)
        self.areas.check_area(area)
        try:
            path.unlink()
        except FileNotFoundError:
            raise EntryNotFound(f"no file {name!r} in {area}/") from None

    # -- upkeep ----------------------------------------------------------------

    def stats(self) -> dict[str, AreaStats]:
        """Files and bytes per area, for every area present."""
        return area_stats(self.areas)

    def recover(
        self, *, stale_tmp_age: float | None = None, lease: float | None = None
    ) -> RecoveryReport:
        """Remove abandoned ``tmp/`` files and return claims to ``new/``.

        A claim goes back when its lease has run out, or at once when its
        holder was a process of this host that has died.  A claim's age is
        measured on the file system's clock, which stamped it, so a host
        whose clock is wrong takes back no claim early.  Safe to run at any
        time and from several processes at once.
        """
        return recover_areas(
            self.areas,
            now=None if self._clock is None else self._clock(),
            tmp_age=self.stale_tmp_age if stale_tmp_age is None else stale_tmp_age,
            lease=self.lease if lease is None else lease,
        )
