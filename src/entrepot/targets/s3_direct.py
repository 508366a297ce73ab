"""S3 requests made directly: small PUTs and listings without boto3's machinery.

A boto3 ``put_object`` spends a few milliseconds of CPU in parameter
handling, endpoint rules, event hooks and response parsing; for thousands of
4 KiB files that, not the network, sets the pace; and importing boto3 and
making its first client (which reads the service model and the endpoint
tables) costs a command a third of a second before anything moves.
:class:`DirectS3` sends the requests a shipping run needs — PUT of an
object below the multipart threshold, with a ``Content-MD5`` the store
checks, HEAD, DELETE (with ``If-Match`` for one version) and
``ListObjectsV2`` pages — signed with SigV4
(:mod:`entrepot.targets.s3_signing`) over one kept-alive connection
(:mod:`entrepot.targets.s3_http`).  An error reply becomes
:class:`~entrepot.targets.s3_errors.S3ErrorReply`, which is translated
with boto3's own errors (:mod:`entrepot.targets.s3_errors`).

The target decides when this path may be used and where its credentials
come from (:mod:`entrepot.targets.s3`): it never reads proxy settings or a
CA bundle that only boto3 would honour.  Requests go to the URL boto3
would use for the same endpoint and bucket
(:mod:`entrepot.targets.s3_address`).  HTTPS is checked against
``ca_file`` or boto3's default bundle (:func:`entrepot.targets.tls.client_context`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from entrepot.targets.s3_address import address
from entrepot.targets.s3_errors import S3ErrorReply
from entrepot.targets.s3_http import BadResponse, IdleClosed, KeptConnection, Response
from entrepot.targets.s3_listing import ListPage, parse_page
from entrepot.targets.s3_signing import SigV4, query_string
from entrepot.targets.tls import client_context
from entrepot.targets.transfer import Progress

__all__ = ["Credentials", "DirectS3", "DirectSettings", "Head", "error_reply"]

#: Gives ``(access_key, secret_key, session_token)``, asked before each request
#: (temporary credentials may have been renewed meanwhile).
Credentials = Callable[[], tuple[str, str, str | None]]

_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


@dataclass(frozen=True)
class DirectSettings:
    """Where the direct requests go, and how the connection is made."""

    endpoint_url: str
    bucket: str
    timeout: float = 30.0
    ca_file: str | None = None
    verify_tls: bool = True


@dataclass(frozen=True)
class Head:
    """What a HEAD reply says of an object."""

    size: int
    mtime: float
    etag: str | None


class DirectS3:
    """Signed requests to one bucket over one connection; one instance per target (per thread)."""

    def __init__(self, credentials: Credentials, region: str, settings: DirectSettings) -> None:
        """Raises :class:`~entrepot.targets.s3_address.Unaddressable` when boto3 must be used."""
        self.credentials = credentials
        self.region = region
        where = self.address = address(settings.endpoint_url, settings.bucket)
        ca_file = settings.ca_file
        context: ssl.SSLContext | None = None
        if where.https:
            if ca_file is None:
                # boto3's own default bundle (certifi's, when installed).
                from botocore.httpsession import get_cert_path

                ca_file = get_cert_path(True)
            context = client_context(verify_tls=settings.verify_tls, ca_file=ca_file)
        self._conn = KeptConnection(
            where.host, where.port, timeout=settings.timeout, context=context
        )
        self._signer: SigV4 | None = None

    def put(
        self,
        key: str,
        body: bytes,
        progress: Progress,
        *,
        if_absent: bool = False,
        sha256: str | None = None,
    ) -> str | None:
        """Store ``body`` under ``key``; return the ETag the store answered.

        ``if_absent``: only if no object has that name (``If-None-Match: *``);
        the store answers 412 ``PreconditionFailed`` when one has.  ``sha256``:
        the body's SHA-256 in hexadecimal, when the caller hashed it already
        (the request is signed with it; else it is computed).
        """
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        headers = {
            "Content-MD5": base64.b64encode(digest).decode("ascii"),
            "Content-Type": "application/octet-stream",
        }
        if if_absent:
            headers["If-None-Match"] = "*"
        response = self._request("PUT", key, {}, headers, body, progress, sha256)
        return response.headers.get("etag")

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete the object ``key`` (the store answers the same whether it existed or not);
        ``if_match``: only if its ETag is that (quoted), else 412 ``PreconditionFailed``."""
        headers = {"If-Match": if_match} if if_match else {}
        self._request("DELETE", key, {}, headers, b"", _ignore)

    def head(self, key: str) -> Head | None:
        """Size, modification time and ETag of the object ``key``; None when it does not exist."""
        try:
            response = self._request("HEAD", key, {}, {}, b"", _ignore)
        except S3ErrorReply as exc:
            if exc.status == 404:
                return None
            raise
        headers = response.headers
        try:
            size = int(headers["content-length"])  # ASCII digits: checked by s3_http
            modified = parsedate_to_datetime(headers["last-modified"]).timestamp()
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise BadResponse(f"the HEAD reply lacks a size or a date: {exc!r}") from None
        return Head(size, modified, headers.get("etag"))

    def list_page(
        self, prefix: str, *, delimiter: str = "", token: str | None = None, max_keys: int = 1000
    ) -> ListPage:
        """One page of the objects under ``prefix`` (``token``: where the last one ended)."""
        params = {"list-type": "2", "encoding-type": "url", "max-keys": str(max_keys)}
        params["prefix"] = prefix
        if delimiter:
            params["delimiter"] = delimiter
        if token:
            params["continuation-token"] = token
        response = self._request("GET", None, params, {}, b"", _ignore)
        try:
            return parse_page(response.body)
        except ValueError as exc:
            raise ConnectionError(f"unreadable listing: {exc}") from None

    def _request(
        self,
        method: str,
        key: str | None,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        progress: Progress,
        sha256: str | None = None,
    ) -> Response:
        """Send a signed request for ``key`` (None: the bucket); raise on an error reply.

        ``sha256``: the body's, when known (see :meth:`put`)."""
        path = self.address.path(key)
        if method in {"PUT", "POST"}:
            headers = {**headers, "Content-Length": str(len(body))}
        query = query_string(params)
        signed = self._signer_now().sign(
            method, self.address.netloc, path, headers, body, query=query, payload_hash=sha256
        )
        target = f"{path}?{query}" if query else path
        for attempt in (1, 2):
            reused = self._conn.is_open
            try:
                response = self._conn.request(method, target, signed, body, progress)
            except (IdleClosed, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the store closed while idle: these
                # requests are idempotent, so one more try on a new one is safe.
                # Not when the call's deadline hung up: the end of the
                # connection is ours, and a new one would escape the deadline.
                if attempt == 2 or not reused or self._conn.hung_up:
                    raise
                continue
            if response.status >= 300:
                raise error_reply(response.status, response.body)
            return response
        raise AssertionError("unreachable")

    def _signer_now(self) -> SigV4:
        access, secret, token = self.credentials()
        signer = self._signer
        if signer is None or (signer.access_key, signer.secret_key, signer.token) != (
            access,
            secret,
            token,
        ):
            signer = self._signer = SigV4(access, secret, token, self.region)
        return signer

    def close(self) -> None:
        self._conn.close()

    def hang_up(self) -> None:
        """Shut the connection down (from another thread), failing a request under way.

        No request is sent again after it: the target makes a new instance.
        """
        self._conn.hang_up()


def error_reply(status: int, body: bytes) -> S3ErrorReply:
    """The error an S3 error reply stands for (its code, or the HTTP status if it has none)."""
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    return S3ErrorReply(
        status,
        code.group(1).decode("utf-8", "replace") if code else str(status),
        message.group(1).decode("utf-8", "replace") if message else "",
    )


def _ignore(moved: int) -> None:
    """Progress of a request without a body worth reporting."""
