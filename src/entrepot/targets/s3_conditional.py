"""Conditional writes on S3: ``If-None-Match: *``, and whether the store honours it.

A PUT (or the completion of a multipart upload) carrying ``If-None-Match:
*`` is refused with 412 ``PreconditionFailed`` when the key exists — the
store decides, atomically, so two writers can never overwrite each other.
AWS S3 honours it since 2024, and so do SeaweedFS, MinIO and others; older
stores and some gateways ignore the header and simply write.  So before the
first conditional write to a bucket, :func:`conditional_writes` asks the
store, once per process for each endpoint and bucket: it writes a probe
object twice, conditionally, and deletes it.  A second write refused with
412 means the header is honoured; a second write accepted, or the header
refused outright (400, 501), means it is not, and the ``exclusive``
conflict policy verifies after writing instead
(:mod:`entrepot.targets.exclusive`).  The target option
``conditional_writes=true|false`` decides without asking.

The multipart path goes through boto3's transfer manager, which passes no
condition of its own: :func:`exclusive_client` makes a client that adds
``IfNoneMatch`` to every ``PutObject`` and ``CompleteMultipartUpload`` it
sends.
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import threading
from typing import TYPE_CHECKING, Any

from entrepot.logs import log_event
from entrepot.targets.info import PARTIAL_SUFFIX
from entrepot.targets.s3_errors import TAKEN_CODES, code_of

if TYPE_CHECKING:
    from entrepot.targets.s3 import S3Target

__all__ = ["PROBE_PREFIX", "conditional_writes", "exclusive_client", "forget"]

logger = logging.getLogger(__name__)

#: The probe object's name starts so; it ends like a temporary upload's, so that
#: listings hide it and a probe left by a process that died is swept with them.
PROBE_PREFIX = ".entrepot-probe-"
_PROBE_BODY = b"Entrepot checks whether this store honours If-None-Match.\n"

_known: dict[tuple[str, str], bool] = {}
_lock = threading.Lock()


def conditional_writes(target: S3Target) -> bool:
    """Whether ``target``'s store refuses a conditional write to a taken key."""
    forced = target.options.get("conditional_writes")
    if forced is not None:
        return bool(forced)
    where = (target.endpoint_url or "aws", target.bucket)
    with _lock:
        known = _known.get(where)
    if known is None:
        known = _probe(target)
        with _lock:
            _known[where] = known
        log_event(logger, "targets.s3_conditional_writes", logging.INFO, url=target.url,
                  supported=known)  # fmt: skip
    return known


def forget() -> None:
    """Ask every store again at its next conditional write (tests, a store upgraded)."""
    with _lock:
        _known.clear()


def _probe(target: S3Target) -> bool:
    name = f"{PROBE_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
    try:
        for attempt in (1, 2):
            try:
                target._put_if_absent(name, io.BytesIO(_PROBE_BODY), len(_PROBE_BODY), _ignore)
            except Exception as exc:
                code = code_of(exc)
                if not code:
                    raise  # no answer from the store: nothing learnt
                # Taken on the second write: honoured.  The header refused: not.
                return attempt == 2 and code in TAKEN_CODES
        return False  # the second write went through: the header is ignored
    finally:
        with contextlib.suppress(Exception):
            target._delete(name)


def exclusive_client(target: S3Target) -> Any:
    """A boto3 client (for transfers) whose object writes all carry ``If-None-Match: *``."""
    client = target._new_client(checksums=True)
    for operation in ("PutObject", "CompleteMultipartUpload"):
        client.meta.events.register(f"before-parameter-build.s3.{operation}", _if_absent)
    return client


def _if_absent(params: dict[str, Any], **_: Any) -> None:
    params["IfNoneMatch"] = "*"


def _ignore(moved: int) -> None:
    """Progress of the probe's writes (too small to report)."""
