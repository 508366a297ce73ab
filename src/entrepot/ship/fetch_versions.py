"""Versions of a remote file: a fetch brings the one it listed, and removes only that one.

A producer may write a remote name again while a fetch works on it — a
corrected file under the same S3 key.  Where the target gives versions (an
S3 ETag in :attr:`~entrepot.targets.RemoteInfo.version`):

* the download is pinned to the version listed (``If-Match``): a file
  written again since is not downloaded at all — it is *deferred*, and the
  next run lists and fetches the new version;
* the remote copy is removed only if it is still the version fetched
  (``If-Match`` on the DELETE, after a HEAD): a new version written during
  the download stays, for the next run.  With ``remote_after`` (a copy and
  a delete on S3) only a HEAD is compared before the move: a write between
  the two is moved with it.

A file whose local name already waits in ``new/`` with other content (the
old version, not shipped yet) is not downloaded either: it is deferred,
left remote, and fetched once the local one has gone on.  Where the target
gives an MD5 (a single-PUT object's ETag) the contents are compared without
a download; otherwise a file of the same size is downloaded and compared
byte for byte, with or without claims: the remote copy is removed only when
the file waiting is the one fetched (the copy an earlier run published
before it died).  Only a regular file waiting is compared, never through a
link: anything else there counts as other content.  A deferral is not a
failure: the run succeeds, each deferred file is logged
(``fetch.deferred``, with its reason) and counted in the run's
``fetch.deferred_total`` event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from entrepot.durable import NotRegularFile, open_regular
from entrepot.errors import RemoteNotFound
from entrepot.logs import log_event

if TYPE_CHECKING:
    from entrepot.provenance import Recorder
    from entrepot.ship.route import Route
    from entrepot.spool import Spool
    from entrepot.targets import RemoteInfo, Target

__all__ = [
    "CHANGED",
    "WAITING",
    "changed",
    "received_before",
    "remove_fetched",
    "same_file",
    "waiting",
]

logger = logging.getLogger("entrepot.ship")

#: Why a file is deferred: written again since it was listed.
CHANGED = "written again since it was listed: its new version is fetched by a later run"
#: Why a file is deferred: its name waits in ``new/`` with other content.
WAITING = "a different file of that name waits in new/: fetched once that one has gone on"
_READ = 1024 * 1024


def waiting(spool: Spool, local: str, info: RemoteInfo) -> bool:
    """Whether a file named ``local`` waits in ``new/`` and surely is not ``info``'s
    content (another size, another MD5 where the listing gave one, not a regular file)."""
    try:
        st = os.lstat(spool.path("new", local))
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != info.size:
        return True
    if info.checksum is None or not info.checksum.startswith("md5:"):
        return False  # the same size, nothing to compare: downloaded, then compared
    try:
        with _open(spool.path("new", local)) as there:
            return f"md5:{_md5(there)}" != info.checksum.lower()
    except NotRegularFile:
        return True  # replaced by a link or a FIFO since: not that content


def same_file(fetched: os.PathLike[str], there: os.PathLike[str]) -> bool:
    """Whether the file waiting in ``new/`` is the one just fetched: the same bytes.

    Never the size alone, claims or not: a remote file is removed after this says
    yes, and another file of the same size there would be its only copy lost."""
    try:
        with _open(there) as waits, open(fetched, "rb") as landed:
            if os.fstat(waits.fileno()).st_size != os.fstat(landed.fileno()).st_size:
                return False
            while block := landed.read(_READ):
                if waits.read(len(block)) != block:
                    return False
            return not waits.read(1)
    except NotRegularFile:
        return False  # a link or a FIFO under that name: never taken for the file


def changed(target: Target, info: RemoteInfo) -> bool | None:
    """After a RemoteNotFound on ``info``: True when the file is there at another version
    (written again since it was listed), None when it is gone, False when it is there
    as listed (refused for another reason)."""
    found = target.stat(info.name)
    if found is None:
        return None
    return found.version != info.version


def remove_fetched(route: Route, target: Target, info: RemoteInfo) -> None:
    """Delete the fetched version of ``info`` remotely (or move it to ``remote_after``);
    a version written since is kept for the next run, a file gone already is fine."""
    name, options = info.name, route.options
    try:
        if options.remote_after:
            if info.version is not None and changed(target, info) is not False:
                raise RemoteNotFound(f"{name!r} is not at the version fetched any more")
            destination = f"{options.remote_after}/{name}"
            target.makedirs(options.remote_after)
            target.rename(name, destination)
            route.observer.moved(name, "remote", options.remote_after)
        else:
            target.delete(name, version=info.version)
            route.observer.removed(name, "remote")
    except RemoteNotFound:
        # Landed all the same: a new version stays for a later run; one gone was
        # removed by another fetcher (or a person) meanwhile.
        kept = changed(target, info)
        why = "a newer version is kept" if kept else "gone already"
        log_event(logger, "fetch.remote_kept", logging.INFO, name=name, why=why)
        if kept:
            return  # its marker belongs to the new version now
    if options.protocol == "marker":
        # After the file: a crash in between leaves a marker with no file, never a
        # file with no marker (which would never be fetched).
        marker = name + options.marker_suffix
        target.delete(marker, missing_ok=True)
        route.observer.removed(marker, "remote")


def received_before(recorder: Recorder | None, place: str, local: str, etag: str | None) -> bool:
    """Whether the ``received`` event of ``local`` at version ``etag`` is in the ledger
    already (recorded before its fetcher died, or by another instance)."""
    if recorder is None:
        return False
    from entrepot.provenance import Kind, find

    events = find(recorder.engine, local, place=place, kinds=[Kind.RECEIVED])
    return any(event.details.get("etag") == etag for event in events)


def _open(path: os.PathLike[str] | str) -> BinaryIO:
    """The regular file ``path`` of a spool, read without following a link and without
    waiting on a FIFO (:class:`~entrepot.durable.NotRegularFile` for anything else)."""
    return os.fdopen(open_regular(path, follow=False), "rb")


def _md5(src: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    while block := src.read(_READ):
        digest.update(block)
    return digest.hexdigest()
