"""What boto3's and botocore's exceptions mean for an ``s3://`` target.

:func:`classify` maps an exception (or the botocore error behind an
s3transfer wrapper) to a class of :mod:`entrepot.errors` and a message;
the store's error *code* decides, never its wording.  The fast path
(:mod:`entrepot.targets.s3_put`) raises the same ``ClientError`` boto3
would, so both paths are read here.
"""

from __future__ import annotations

import http.client

import botocore.exceptions

from entrepot import errors

__all__ = ["classify", "code_of"]

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


def classify(exc: BaseException, *, bucket: str, timeout: float) -> Found | None:
    """The error class and message for ``exc``; None when it is not boto3's own."""
    root = _root_cause(exc)
    if isinstance(root, botocore.exceptions.ClientError):
        return _client_error(root, bucket)
    if isinstance(exc, http.client.HTTPException):
        return errors.ConnectionFailed, f"connection failed: {type(exc).__name__}"
    timeouts = botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError
    if isinstance(root, timeouts):
        return errors.TargetTimeout, f"timed out after {timeout:g} s"
    if isinstance(root, botocore.exceptions.EndpointConnectionError):
        return errors.ConnectionFailed, "could not connect to the endpoint"
    closed = botocore.exceptions.ConnectionClosedError | botocore.exceptions.HTTPClientError
    if isinstance(root, closed):
        return errors.ConnectionFailed, f"connection failed: {type(root).__name__}"
    missing = botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    if isinstance(root, missing):
        return errors.AuthenticationFailed, "no S3 credentials found"
    if isinstance(root, botocore.exceptions.ProfileNotFound):
        return errors.AuthenticationFailed, str(root)
    return None


def code_of(exc: botocore.exceptions.ClientError) -> str:
    """The store's error code (``NoSuchKey``, ``403`` …)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def _client_error(exc: botocore.exceptions.ClientError, bucket: str) -> Found:
    code = code_of(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    message = exc.response.get("Error", {}).get("Message") or code
    text = f"{code}: {message}" if message != code else code
    if code in _AUTH_CODES:
        return errors.AuthenticationFailed, f"the store refused the credentials ({text})"
    if code == "NoSuchBucket":
        return errors.RemoteNotFound, f"no such bucket {bucket!r}"
    if code in {"NoSuchKey", "404", "NotFound"}:
        return errors.RemoteNotFound, None
    if code in {"AccessDenied", "403", "AllAccessDisabled"}:
        return errors.PermissionDenied, f"the store denied access ({text})"
    if code in _TRANSIENT_CODES or status >= 500:
        return errors.TransientTargetError, f"the store is busy or failing ({text})"
    return errors.PermanentTargetError, f"the store refused the request ({text})"


def _root_cause(exc: BaseException) -> BaseException:
    """The botocore error behind wrappers such as s3transfer's."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        if isinstance(current, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
            found: BaseException = current
            return found
        current = current.__cause__ or current.__context__
    return exc
