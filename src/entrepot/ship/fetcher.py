"""Fetching: the other direction — remote files into a spool's ``new/``.

Each remote file is downloaded into the spool's ``tmp/``, published durably
into ``new/``, and only then deleted on the server (or moved into a remote
folder given by ``remote_after``).  A crash at any point leaves the file
either still on the server or safely in the spool — at worst both, and the
next run then sees the local copy holds the same bytes and only removes the
remote one.

Under the lock protocol the run holds a ``read`` lock in the remote folder.
Under the marker protocol only files whose ``<name>.done`` marker is there
are fetched, and the marker is removed after its file.

A remote name that can never become a spool entry (a control character, a
leading dot, a slash), or a listed size no local file can have, is skipped
and reported in :attr:`Report.skipped`: a retry could not fetch it either,
so it does not fail the run or send the job to the backlog; the command
exits 7 (invalid data) once the other files are in.  A file that failed is
in :attr:`Report.failed`, whether the failure stopped the run or not.

A full local disk is the local side's failure: it is reported as such
(an ``OSError`` naming the spool), never as a fault of the remote path.

With the ``claims`` option several fetchers share one remote folder, each
file fetched once, its sub-folders included (:mod:`entrepot.ship.claimed`).

A file written again since it was listed, or whose local name waits in
``new/`` with other content, is *deferred*: left remote for a later run, in
:attr:`Fetcher.deferred` and :attr:`Report.deferred`, never a failure
(:mod:`entrepot.ship.fetch_versions`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrepot.errors import (
    ConfigError,
    InvalidName,
    NameExists,
    PermanentTargetError,
    RemoteNotFound,
    TargetError,
)
from entrepot.jobs.keeper import ClaimKeeper
from entrepot.logs import log_event
from entrepot.names import check_name
from entrepot.ship.claimed import ClaimTaken, FetchClaims, local_name, walk
from entrepot.ship.downloading import child_url, hasher, space_error
from entrepot.ship.fetch_versions import (
    CHANGED,
    WAITING,
    changed,
    received_before,
    remove_fetched,
    same_file,
    waiting,
)
from entrepot.ship.landing import settle, sweep_landing
from entrepot.ship.route import Report, Route, is_data_name
from entrepot.spool import spool_name
from entrepot.targets import RemoteInfo, Target

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim

#: The largest file a local file system can hold (a signed 64-bit offset).
MAX_FILE_SIZE = 2**63 - 1

logger = logging.getLogger("entrepot.ship")


class Fetcher(Route):
    """Fetches one remote folder into one spool; see the module docstring."""

    direction = "fetch"
    #: The ledger's claims, when the ``claims`` option is on (set by the job).
    claims: FetchClaims | None = None
    #: Renews the claims of a run under claims while it fetches.
    keeper: ClaimKeeper | None = None
    #: The claims of this source left in doubt, as the last run found them.
    in_doubt: tuple[Claim, ...] = ()
    #: Files of the last run left remote for a later one, with the reason.
    deferred: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred = {}

    def local_name(self, remote: str) -> str:
        """The spool name of the remote file ``remote``; InvalidName if it can have none."""
        if not self.options.claims:
            return spool_name(remote, what="remote file name")
        for part in remote.split("/"):
            check_name(part, what="remote file name")
        return local_name(remote)

    def survey(
        self, target: Target, report: Report | None = None
    ) -> tuple[list[RemoteInfo], set[str]]:
        """The files to fetch (oldest first where the server says) and every name present,
        from one listing; names that cannot be fetched go to ``report.skipped``."""
        listing = walk(target) if self.options.claims else target.list("")
        present = {info.name for info in listing}
        files = []
        for info in listing:
            if info.is_dir or not is_data_name(info.name.rpartition("/")[2], self.options):
                continue
            if not self._ready(info, present):
                continue
            try:
                self.local_name(info.name)
            except InvalidName as exc:
                self._skip(report, "fetch.name_skipped", info.name, str(exc))
                continue
            if info.size > MAX_FILE_SIZE:
                why = f"its listed size ({info.size} bytes) is more than a local file can hold"
                self._skip(report, "fetch.size_skipped", info.name, why)
                continue
            files.append(info)
        files.sort(key=lambda info: (info.mtime or 0.0, info.name))
        return files, present

    def _skip(self, report: Report | None, event: str, name: str, reason: str) -> None:
        """A listed file that can never be fetched as it is: reported, never tried."""
        if report is not None:
            report.add_skipped(name, reason)
            log_event(logger, event, logging.WARNING, name=name, reason=reason)

    def _missing(
        self, target: Target, info: RemoteInfo, report: Report, claim: Claim | None
    ) -> bool:
        """Whether a listed file the server says is not there is gone indeed (taken by
        another fetcher, or skipped), or written again since it was listed (deferred)."""
        now = changed(target, info)
        if now:
            self._defer(report, info.name, CHANGED)
            return True
        if now is not None:
            return False  # there as listed, and refused: a failure
        if claim is None:
            why = "listed, then not found: taken since, or a name the server cannot spell"
            self._skip(report, "fetch.vanished", info.name, why)
        return True  # under a claim: fetched and removed by another fetcher meanwhile

    def _defer(self, report: Report, name: str, reason: str) -> None:
        """Leave ``name`` remote for a later run: not a failure."""
        self.deferred[name] = reason
        report.add_deferred(name, reason)
        log_event(logger, "fetch.deferred", logging.WARNING, name=name, reason=reason)

    def _ready(self, info: RemoteInfo, present: set[str]) -> bool:
        """Under the marker protocol a file is complete only once its marker is there."""
        if self.options.protocol != "marker":
            return True
        return info.name + self.options.marker_suffix in present

    def plan(self) -> list[RemoteInfo]:
        """The remote files a run would fetch now (connects and lists; nothing moves)."""
        try:
            return self.shielded(lambda: self.survey(self.connection or self.connect())[0])
        finally:
            self.disconnect()

    def open_session(self, target: Target, present: set[str]) -> None:
        """Take the ``read`` lock under the lock protocol."""
        self.acquire_lock(target, present, self.options.read_lock)

    def fetch_one(self, target: Target, info: RemoteInfo, claim: Claim | None = None) -> int:
        """Bring one remote file into ``new/``, then remove (or move) the remote copy."""
        name = info.name
        local = self.local_name(name)
        self.observer.transferring(name)
        claims = self.claims if claim is not None else None
        if claims is None or claim is None:
            scratch = self.spool.scratch_path()
        else:
            scratch = claims.scratch(self.spool, claim)
        # One digest per try of the transfer: the last one saw the bytes that landed.
        digests: list[Any] = []
        try:
            keeper = self.keeper if claim is not None else None
            digest = hasher(digests, self.trail.on, keeper, claim)
            self._download(target, info, scratch, digest)
            size = scratch.stat().st_size
            if claims is not None and claim is not None:
                claim = self._land(claims, claim, local, scratch)
            try:
                self.spool.adopt(scratch, local)
            except NameExists:
                # An earlier run published it and died before the remote delete — if
                # the bytes are the same; otherwise deferred, its remote copy kept.
                if not same_file(scratch, self.spool.path("new", local)):
                    raise
            except BaseException:
                if claims is not None and claim is not None and not scratch.exists():
                    self._stored(claims, claim, local)  # renamed after all: it is durable
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
        if claims is not None and claim is not None:
            self._stored(claims, claim, local)
        self.observer.transferred(name, size)
        checksum = f"sha256:{digests[-1].hexdigest()}" if digests else None
        self._received(target, name, local, size, checksum, etag=info.version)
        remove_fetched(self, target, info)
        return size

    def _received(
        self, target: Target, name: str, local: str, size: int, checksum: str | None,
        **fleet: str | None,
    ) -> None:  # fmt: skip
        """Record the ``received`` event of remote ``name``, now ``local`` in the spool;
        under claims with the object's key, its ``etag`` (the version landed) and
        ``instance`` (the fetcher's, unless given)."""
        source = child_url(self.display_url, name)
        if self.options.claims:
            key = target.remote_path(name)
            self.trail.received(local, size, source, checksum, key=key, **fleet)
        else:
            self.trail.received(local, size, source, checksum)

    def _settled_receipt(self, target: Target) -> Callable[[Claim, str, int, str | None], None]:
        """What records the ``received`` event of a claim settled as landed at the start
        of a run — once: not if its fetcher recorded it before it died."""

        def record(claim: Claim, local: str, size: int, checksum: str | None) -> None:
            detail = claim.detail or {}
            etag, by = detail.get("version"), detail.get("landing", {}).get("by")
            if received_before(self.trail.recorder, self.trail.place, local, etag):
                return
            name = str(detail.get("name", local))
            self._received(target, name, local, size, checksum, etag=etag, instance=by)

        return record

    def _land(self, claims: FetchClaims, claim: Claim, local: str, scratch: Path) -> Claim:
        """Mark ``claim`` landing before its file is renamed into ``new/``; ClaimTaken
        (nothing published) when it was taken over meanwhile."""
        if self.keeper is not None and self.keeper.lost(claim):
            raise ClaimTaken(f"the claim on {claim.key!r} was taken over")
        landing = claims.land(claim, local, scratch, self.spool)
        if landing is None:
            raise ClaimTaken(f"the claim on {claim.key!r} was taken over")
        return landing

    def _stored(self, claims: FetchClaims, claim: Claim, local: str) -> None:
        """The claim is done: no longer renewed (a renewal of a done claim would find it
        gone and call it lost)."""
        if self.keeper is not None:
            self.keeper.drop(claim)
        claims.stored(claim, local)

    def _settle_fetched(self, target: Target, info: RemoteInfo) -> None:
        """Not ours to fetch: held by another fetcher — or fetched already and still
        there (a fetcher died before removing it; an edge wrote the same bytes again),
        which is removed now."""
        assert self.claims is not None
        if self.claims.fetched_before(info):
            # That version only: one written since is fetched by a later run.
            target.delete(info.name, missing_ok=True, version=info.version)
            log_event(logger, "fetch.duplicate_removed", logging.INFO, name=info.name)

    def _download(
        self,
        target: Target,
        info: RemoteInfo,
        scratch: os.PathLike[str],
        digest: Callable[[], Any] | None = None,
    ) -> None:
        try:
            # The data is synced here; the folder that counts is new/, synced on adoption
            # — and under claims tmp/landing/ too: the file there is the evidence that it
            # did not land yet (see entrepot.ship.landing).  The version listed, or none.
            sync, version = self.options.claims, info.version
            target.download(info.name, scratch, sync_folder=sync, digest=digest, version=version)
        except (TargetError, OSError) as exc:
            space = space_error(exc)
            if space is None:
                raise
            # A download writes only here: a full disk is ours, whatever the target says.
            tmp = self.spool.area("tmp")
            raise OSError(
                space.errno,
                f"{os.strerror(space.errno or errno.ENOSPC)} in the local spool",
                str(tmp),
            ) from exc

    def fetch_all(self, target: Target, files: list[RemoteInfo], report: Report) -> None:
        """Fetch ``files`` one after another; refusals of single files are recorded.

        A transient failure stops the run and is raised; the first permanent
        one is raised at the end, after the other files were fetched.  Either
        way the file is in ``report.failed``.  Once
        :meth:`stop` is called no new file is started.
        """
        self.spool.check()
        self.deferred = {}
        try:
            self._fetch_all(target, files, report)
        finally:
            if self.deferred:
                log_event(logger, "fetch.deferred_total", logging.INFO, count=len(self.deferred))

    def _fetch_all(self, target: Target, files: list[RemoteInfo], report: Report) -> None:
        if not self.options.claims:
            self._fetch_each(target, files, report)
            return
        if self.claims is None:
            raise ConfigError("a fetch under claims needs a ledger to claim files in")
        # Claims an earlier run left in doubt first: those that landed are done now.
        self.in_doubt = tuple(settle(self.claims, self.spool, self._settled_receipt(target)))
        sweep_landing(self.claims, self.spool)
        # Fetchers of one folder start at different places: fewer claims collide.
        turn = secrets.randbelow(len(files)) if files else 0
        with ClaimKeeper(self.claims.ledger, self.claims.lease) as self.keeper:
            try:
                self._fetch_each(target, files[turn:] + files[:turn], report)
            finally:
                self.keeper = None

    def _fetch_each(self, target: Target, files: list[RemoteInfo], report: Report) -> None:
        refused: list[BaseException] = []
        for info in files:
            if self.stopped:
                break
            if waiting(self.spool, self.local_name(info.name), info):
                self._defer(report, info.name, WAITING)  # checked before a claim or a download
                continue
            claim = None
            if self.claims is not None:
                claim = self.claims.take(info)
                if claim is None:
                    self._settle_fetched(target, info)
                    continue
                if self.keeper is not None:
                    self.keeper.hold(claim)
            try:
                size = self.fetch_one(target, info, claim)
            except BaseException as exc:
                if claim is not None and self.claims is not None:
                    if self.keeper is not None:
                        self.keeper.drop(claim)
                    self.claims.release(claim)  # none once done: the local copy is kept
                if isinstance(exc, ClaimTaken):
                    log_event(logger, "fetch.claim_taken", logging.WARNING, name=info.name)
                    continue  # another fetcher has it now: nothing was published here
                if isinstance(exc, NameExists):
                    # Same size, other bytes (seen only once fetched): kept remote.
                    self._defer(report, info.name, WAITING)
                    continue
                if isinstance(exc, RemoteNotFound) and self._missing(target, info, report, claim):
                    continue
                if isinstance(exc, Exception):  # not an interruption: this file failed
                    self.observer.failed(info.name, exc)
                    report.add_failed(info.name, exc)
                if not isinstance(exc, (PermanentTargetError, InvalidName)):
                    raise
                refused.append(exc)
                continue
            if claim is not None and self.keeper is not None:
                self.keeper.drop(claim)
            report.add_done(info.name, size)
        if refused:
            raise refused[0]

    def session(self, report: Report) -> None:
        """Connect (unless connected), list, lock and fetch; the caller disconnects."""
        target = self.connection or self.connect()
        files, present = self.survey(target, report)
        if files and not self.stopped:
            self.open_session(target, present)
            try:
                self.fetch_all(target, files, report)
            finally:
                self.trail.flush()

    def run(self) -> Report:
        """One complete run without retries."""
        report = Report()
        try:
            self.shielded(lambda: self.session(report))
        finally:
            self.disconnect()
        return report
