"""One version of an S3 object: reads and deletes pinned to the ETag a listing gave.

A producer may write a key again at any time.  A fetch lists an object (its
ETag), downloads it and deletes it; without a condition the download could
bring the new bytes under the old ETag, and the delete could remove a new
version nobody fetched.  So a read of a version sends ``If-Match: <ETag>``
(the store answers 412 when the object changed: nothing is read), and a
delete of a version first asks for the object's ETag (HEAD), then sends its
DELETE with ``If-Match`` too.  AWS S3 honours ``If-Match`` on DeleteObject,
and so does SeaweedFS; a store that ignores it still had the HEAD just
before (a write between the two is then lost); one that refuses it (501)
gets the HEAD and a plain DELETE, said once per process.  A refusal for a
changed object is RemoteNotFound: that version is not there any more.

Both request paths behave the same: boto3's ``get_object`` and
``delete_object`` with ``IfMatch``, and the direct DELETE with its header.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from entrepot import errors
from entrepot.logs import log_event
from entrepot.targets.base import changed_since
from entrepot.targets.s3_errors import code_of
from entrepot.targets.transfer import Progress, copy_stream

if TYPE_CHECKING:
    from entrepot.targets.s3 import S3Target

__all__ = ["delete_key", "delete_version", "read"]

logger = logging.getLogger(__name__)

#: What a store answers to a condition that does not hold (412).
_CHANGED = frozenset({"PreconditionFailed", "412"})
#: What a store answers to a condition it does not implement.
_UNSUPPORTED = frozenset({"NotImplemented", "501"})
#: Endpoints and buckets whose store refused ``If-Match`` on a DELETE.
_no_conditional_delete: set[tuple[str, str]] = set()


def read(
    target: S3Target,
    path: str,
    write: Callable[[bytes], object],
    progress: Progress,
    version: str | None = None,
) -> None:
    """Pass the object's bytes to ``write``; ``version``: only if its ETag is that."""
    pinned = {"IfMatch": _quoted(version)} if version else {}
    try:
        response = target.client.get_object(Bucket=target.bucket, Key=target._key(path), **pinned)
    except Exception as exc:
        if version and code_of(exc) in _CHANGED:
            raise target._error(errors.RemoteNotFound, changed_since(version), path) from exc
        raise
    with contextlib.closing(response["Body"]) as body:
        copy_stream(body.read, write, progress=progress)


def delete_version(target: S3Target, path: str, version: str) -> None:
    """Delete the object ``path`` if its ETag is ``version``; else RemoteNotFound."""
    found = target._stat(path)
    if found is None or found.version != version:
        raise target._error(errors.RemoteNotFound, changed_since(version), path)
    where = (target.endpoint_url or "aws", target.bucket)
    if where in _no_conditional_delete:
        delete_key(target, path)
        return
    try:
        delete_key(target, path, if_match=version)
    except Exception as exc:
        code = code_of(exc)
        if code in _CHANGED:
            raise target._error(errors.RemoteNotFound, changed_since(version), path) from exc
        if code not in _UNSUPPORTED:
            raise
        _no_conditional_delete.add(where)
        why = "the store refuses If-Match on DELETE: only a HEAD is checked before it"
        log_event(logger, "targets.s3_conditional_delete_off", logging.WARNING, url=target.url,
                  why=why)  # fmt: skip
        delete_key(target, path)


def delete_key(target: S3Target, path: str, *, if_match: str | None = None) -> None:
    """One DELETE of the object ``path`` (``if_match``: only if its ETag is that)."""
    key = target._key(path)
    if target._direct is not None:
        target._direct.delete(key, if_match=_quoted(if_match) if if_match else None)
    elif if_match:
        target.client.delete_object(Bucket=target.bucket, Key=key, IfMatch=_quoted(if_match))
    else:
        target.client.delete_object(Bucket=target.bucket, Key=key)


def _quoted(etag: str | None) -> str:
    """An ETag as a condition carries it: in double quotes (listings strip them)."""
    return f'"{(etag or "").strip(chr(34))}"'
