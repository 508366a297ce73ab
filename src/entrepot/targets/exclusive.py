"""The ``exclusive`` conflict policy: a name is written once, never overwritten.

Meant for deterministic names that several writers may produce — an edge
that delivers a file again after a crash, two hosts given the same name by
mistake.  The first writer stores the object; any later one finds it there
and compares: the same bytes (size, and checksum where the store gives one)
count as delivered (``kept``, recorded as skipped, identical — compared by
checksum, or read back where the store gives none); other bytes
are a conflict, :class:`~entrepot.errors.RemoteExists`, and nothing is
written.

Where the store can refuse a write to a name that is taken, atomically
(S3's ``If-None-Match: *`` on a PUT and on a multipart completion), two
writers racing for one name cannot both write: the store lets one through
and answers the other "precondition failed".  A target says so through
``_conditional_writes()`` (S3 asks the store once, with a probe object:
:mod:`entrepot.targets.s3_conditional`) and writes through
``_put_if_absent``.

Elsewhere the write is an ordinary publish followed by a fresh look at the
name (*verify after write*): when what the name holds then is not what this
writer sent, another writer's copy replaced it, and this one reports the
conflict.  The last writer always finds its own bytes and succeeds; an
earlier one that finished its check before the last write could not see
it — the race that only conditional writes close.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from entrepot.errors import RemoteExists, VerificationFailed
from entrepot.logs import log_event
from entrepot.targets.info import RemoteInfo
from entrepot.targets.publish import Upload, Verify
from entrepot.targets.transfer import Progress, digest_of

__all__ = ["CONFLICT_MESSAGE", "publish_exclusive"]

logger = logging.getLogger(__name__)

CONFLICT_MESSAGE = "another writer stored different content under this name"


def publish_exclusive(
    upload: Upload, path: str, verify: Verify, progress: Progress | None
) -> RemoteInfo:
    """Write ``upload`` under ``path`` unless the name is taken; see the module docstring."""
    target = upload.target
    if not target._call(path, target._conditional_writes):
        existing = target._call(path, target._stat, path)
        if existing is not None:
            return _settle(upload, path, existing, "nothing was written")
        return _verified_after_write(upload, path, verify, progress)
    # No look first: the store refuses the write when the name is taken, and a
    # name is free far more often than not (one request per file, not two).
    folder = path.rpartition("/")[0]
    if folder:
        target._ensure_folder(folder)
    try:
        acknowledged = target._call(path, upload.put_if_absent, path, progress)
    except RemoteExists:
        # Another writer's object got there first (or this one's, written by a
        # try whose reply was lost with its connection): compare with it.
        found = target._call(path, target._stat, path)
        if found is None:
            raise target._error(
                VerificationFailed, "the name was taken, then freed: try again", path
            ) from None
        return _settle(upload, path, found, "nothing was written")
    info = upload.verify(path, verify, acknowledged) if verify else None
    log_event(logger, "targets.uploaded", logging.INFO, url=target.url, name=path,
              size=upload.size, conditional=True)  # fmt: skip
    return replace(info, name=path) if info is not None else RemoteInfo(path, upload.size)


def _verified_after_write(
    upload: Upload, path: str, verify: Verify, progress: Progress | None
) -> RemoteInfo:
    """Publish, then look again: the name must hold what this writer sent."""
    target = upload.target
    info = upload.publish(path, "replace", verify, progress)
    found = target._call(path, target._stat, path)
    if found is None or not _holds(upload, path, found):
        message = f"{CONFLICT_MESSAGE} after this one (the store has no conditional writes)"
        raise target._error(RemoteExists, message, path)
    return info


def _holds(upload: Upload, path: str, found: RemoteInfo) -> bool:
    """True when ``found`` holds this upload's bytes: same size, and the same checksum —
    or, where the store gives none (a multipart ETag, FTP), the same content read back."""
    if found.is_dir or found.size != upload.size:
        return False
    if found.checksum:
        return upload.same_checksum(found)
    target = upload.target
    remote = hashlib.sha256()
    target._call(path, target._get, path, remote.update, target._progress(None))
    return remote.hexdigest() == digest_of(upload.checked, upload.start, "sha256")


def _settle(upload: Upload, path: str, existing: RemoteInfo, what: str) -> RemoteInfo:
    """An identical ``existing`` copy is as good as ours; a different one is a conflict."""
    target = upload.target
    if _holds(upload, path, existing):
        log_event(logger, "targets.skipped", logging.INFO, url=target.url, name=path,
                  why="identical")  # fmt: skip
        return replace(existing, kept=True)
    raise target._error(RemoteExists, f"{CONFLICT_MESSAGE}; {what}", path)
