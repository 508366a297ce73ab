"""Fetching: the other direction — remote files into a spool's ``new/``.

Each remote file is downloaded into the spool's ``tmp/``, published durably
into ``new/``, and only then deleted on the server (or moved into a remote
folder given by ``remote_after``).  A crash at any point leaves the file
either still on the server or safely in the spool — at worst both, and the
next run then sees the local copy is complete and only removes the remote one.

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
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
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
from entrepot.ship.landing import settle, sweep_landing
from entrepot.ship.route import Report, Route, is_data_name
from entrepot.spool import spool_name
from entrepot.targets import RemoteInfo, Target

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim

_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
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

    def _vanished(self, target: Target, info: RemoteInfo, report: Report) -> bool:
        """Whether a listed file the server says is not there is gone indeed: skipped."""
        if target.stat(info.name) is not None:
            return False  # there, and refused: a failure
        why = "listed, then not found: taken since, or a name the server cannot spell"
        self._skip(report, "fetch.vanished", info.name, why)
        return True

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
            self._download(target, name, scratch, self._hasher(digests, claim))
            size = scratch.stat().st_size
            if claims is not None and claim is not None:
                claim = self._land(claims, claim, local, scratch)
            try:
                self.spool.adopt(scratch, local)
            except NameExists:
                # An earlier run published it but died before the remote delete.
                if not self._same_file(scratch, self.spool.path("new", local), size):
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
        source = _child(self.display_url, name)
        checksum = f"sha256:{digests[-1].hexdigest()}" if digests else None
        if self.options.claims:
            key = target.remote_path(name)
            self.trail.received(local, size, source, checksum, key=key, etag=info.version)
        else:
            self.trail.received(local, size, source, checksum)
        self._remove_remote(target, name)
        return size

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

    def _same_file(self, fetched: os.PathLike[str], there: os.PathLike[str], size: int) -> bool:
        """Whether the file already in ``new/`` is the one just fetched: the same size —
        and under claims, where many sources meet in one spool, the same bytes."""
        if os.stat(there).st_size != size:
            return False
        return not self.options.claims or filecmp.cmp(fetched, there, shallow=False)

    def _remove_remote(self, target: Target, name: str) -> None:
        """Delete the remote copy of a fetched file, or move it to ``remote_after``."""
        if self.options.remote_after:
            destination = f"{self.options.remote_after}/{name}"
            target.makedirs(self.options.remote_after)
            target.rename(name, destination)
            self.observer.moved(name, "remote", self.options.remote_after)
        else:
            target.delete(name)
            self.observer.removed(name, "remote")
        if self.options.protocol == "marker":
            # After the file: a crash in between leaves a marker with no file, never a
            # file with no marker (which would never be fetched).
            marker = name + self.options.marker_suffix
            target.delete(marker, missing_ok=True)
            self.observer.removed(marker, "remote")

    def _settle_fetched(self, target: Target, info: RemoteInfo) -> None:
        """Not ours to fetch: held by another fetcher — or fetched already and still
        there (a fetcher died before removing it; an edge wrote the same bytes again),
        which is removed now."""
        assert self.claims is not None
        if self.claims.fetched_before(info):
            target.delete(info.name, missing_ok=True)
            log_event(logger, "fetch.duplicate_removed", logging.INFO, name=info.name)

    def _hasher(self, digests: list[Any], claim: Claim | None = None) -> Callable[[], Any] | None:
        """A maker of SHA-256 digests that keeps them in ``digests``, if provenance is on;
        under a claim kept alive by :attr:`keeper`, one that also ends the download
        (ClaimTaken) as soon as the claim is found taken over."""
        keeper = self.keeper if claim is not None else None
        if not self.trail.on and keeper is None:
            return None

        def fresh() -> Any:
            digest = hashlib.sha256() if self.trail.on else None
            if digest is not None:
                digests.append(digest)
            if keeper is None or claim is None:
                return digest
            return _Watched(digest, lambda: keeper.lost(claim), claim.key)

        return fresh

    def _download(
        self,
        target: Target,
        name: str,
        scratch: os.PathLike[str],
        digest: Callable[[], Any] | None = None,
    ) -> None:
        try:
            # The data is synced here; the folder that counts is new/, synced on adoption
            # — and under claims tmp/landing/ too: the file there is the evidence that it
            # did not land yet (see entrepot.ship.landing).
            sync = self.options.claims
            target.download(name, scratch, sync_folder=sync, digest=digest)
        except (TargetError, OSError) as exc:
            space = _space_error(exc)
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
        if not self.options.claims:
            self._fetch_each(target, files, report)
            return
        if self.claims is None:
            raise ConfigError("a fetch under claims needs a ledger to claim files in")
        # Claims an earlier run left in doubt first: those that landed are done now.
        self.in_doubt = tuple(settle(self.claims, self.spool))
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
                if isinstance(exc, RemoteNotFound) and claim is not None:
                    continue  # fetched and removed by another fetcher meanwhile
                if isinstance(exc, RemoteNotFound) and self._vanished(target, info, report):
                    continue
                if isinstance(exc, Exception):  # not an interruption: this file failed
                    self.observer.failed(info.name, exc)
                    report.add_failed(info.name, exc)
                if not isinstance(exc, (PermanentTargetError, InvalidName, NameExists)):
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


class _Watched:
    """A digest (or none) fed a download's bytes, that ends the download once
    ``lost()`` says its claim was taken over."""

    def __init__(self, digest: Any, lost: Callable[[], bool], key: str) -> None:
        self.digest = digest
        self.lost = lost
        self.key = key

    def update(self, data: bytes) -> None:
        if self.lost():
            raise ClaimTaken(f"the claim on {self.key!r} was taken over: download abandoned")
        if self.digest is not None:
            self.digest.update(data)

    def hexdigest(self) -> str:
        return str(self.digest.hexdigest()) if self.digest is not None else ""


def _space_error(exc: BaseException) -> OSError | None:
    """The out-of-space error behind ``exc`` (its causes followed), if there is one."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in _SPACE:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _child(url: str, name: str) -> str:
    """``url`` with ``name`` added to its path, before its query string if it has one."""
    base, mark, query = url.partition("?")
    return f"{base.rstrip('/')}/{name}{mark}{query}"
