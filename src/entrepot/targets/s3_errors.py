"""What the store's replies, and boto3's and botocore's exceptions, mean for an ``s3://`` target.

:func:`classify` maps an exception (or the botocore error behind an
s3transfer wrapper) to a class of :mod:`entrepot.errors` and a message;
the store's error *code* decides, never its wording.  The direct path
(:mod:`entrepot.targets.s3_direct`) raises :class:`S3ErrorReply`, read here
like boto3's ``ClientError``.  A TLS failure is read from the :mod:`ssl`
error behind it, on either path.  botocore is never imported here: an
exception can only be one of its own once something else imported it.
"""

from __future__ import annotations

import http.client
import sys
from typing import Any

from entrepot import errors
from entrepot.targets.tls import tls_failure

__all__ = ["TAKEN_CODES", "S3ErrorReply", "classify", "code_of"]

_AUTH_CODES = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
}
_TRANSIENT_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
}
Found = tuple[type[errors.TargetError], str | None]
#: Answers to a write made with ``If-None-Match: *`` when the key is taken (AWS
#: answers 409 to a write racing another conditional one still in progress).
TAKEN_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class S3ErrorReply(Exception):
    """An error reply of the store: its HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if message else f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


def classify(exc: BaseException, *, bucket: str, timeout: float) -> Found | None:
    """The error class and message for ``exc``; None when it is not the store's or boto3's."""
    root = _root_cause(exc)
    if isinstance(root, S3ErrorReply):
        return _reply_error(root.status, root.code, root.message or root.code, bucket)
    botocore = _botocore()
    if botocore is not None and isinstance(root, botocore.exceptions.ClientError):
        code = code_of(root)
        status = root.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = root.response.get("Error", {}).get("Message") or code
        return _reply_error(status, code, message, bucket)
    tls = tls_failure(exc)
    if tls is not None:
        return tls
    if isinstance(exc, http.client.HTTPException):
        return errors.ConnectionFailed, f"connection failed: {type(exc).__name__}"
    if botocore is None:
        return None
    timeouts = botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError
    if isinstance(root, timeouts):
        return errors.TargetTimeout, f"timed out after {timeout:g} s"
    if isinstance(root, botocore.exceptions.EndpointConnectionError):
        return errors.ConnectionFailed, "could not connect to the endpoint"
    cut_short = botocore.exceptions.IncompleteReadError | botocore.exceptions.ResponseStreamingError
    if isinstance(root, cut_short):
        message = f"the store closed the connection during the transfer ({root})"
        return errors.ConnectionFailed, message
    if isinstance(root, botocore.exceptions.PaginationError):
        # The one a listing can meet: a continuation token the store gave before.
        detail = root.kwargs.get("message") or root
        return errors.ConnectionFailed, f"the store's listing would never end ({detail})"
    closed = botocore.exceptions.ConnectionClosedError | botocore.exceptions.HTTPClientError
    if isinstance(root, closed):
        return errors.ConnectionFailed, f"connection failed: {type(root).__name__}"
    missing = botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    if isinstance(root, missing):
        return errors.AuthenticationFailed, "no S3 credentials found"
    if isinstance(root, botocore.exceptions.ProfileNotFound):
        return errors.AuthenticationFailed, str(root)
    return None


def code_of(exc: BaseException) -> str:
    """The store's error code (``NoSuchKey``, ``403`` …) of an error reply, else ""."""
    if isinstance(exc, S3ErrorReply):
        return exc.code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _reply_error(status: int, code: str, message: str, bucket: str) -> Found:
    text = f"{code}: {message}" if message != code else code
    if code in _AUTH_CODES:
        return errors.AuthenticationFailed, f"the store refused the credentials ({text})"
    if code in TAKEN_CODES:
        return errors.RemoteExists, f"the key is taken ({text})"
    if code == "NoSuchBucket":
        return errors.RemoteNotFound, f"no such bucket {bucket!r}"
    if code in {"NoSuchKey", "404", "NotFound"}:
        return errors.RemoteNotFound, None
    if code in {"AccessDenied", "403", "AllAccessDisabled"}:
        return errors.PermissionDenied, f"the store denied access ({text})"
    if 300 <= status < 400:
        # Never followed: a redirect would take the request, signed, somewhere else.
        message = f"the endpoint answers with a redirect ({text}), which is not followed"
        return errors.PermanentTargetError, f"{message}: is endpoint_url the store's address?"
    if code in _TRANSIENT_CODES or status >= 500:
        return errors.TransientTargetError, f"the store is busy or failing ({text})"
    return errors.PermanentTargetError, f"the store refused the request ({text})"


def _botocore() -> Any:
    """botocore, if this process imported it (else none of its errors can exist)."""
    return sys.modules.get("botocore") if "botocore.exceptions" in sys.modules else None


def _root_cause(exc: BaseException) -> BaseException:
    """The store's or botocore's error behind wrappers such as s3transfer's."""
    botocore = _botocore()
    own: tuple[type[BaseException], ...] = (S3ErrorReply,)
    if botocore is not None:
        own += (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        if isinstance(current, own):
            return current
        current = current.__cause__ or current.__context__
    return exc
