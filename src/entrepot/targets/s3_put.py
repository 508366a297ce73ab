"""Small S3 PUTs without the boto3 client's per-request machinery.

A boto3 ``put_object`` spends a few milliseconds of CPU in parameter
handling, endpoint rules, event hooks and response parsing; for thousands of
4 KiB files that, not the network, sets the pace (measured in
``docs/benchmarks.md``).  :class:`SignedPut` sends the same request — signed
with SigV4 (:mod:`entrepot.targets.s3_signing`) from the credentials boto3
resolved, with a ``Content-MD5`` the store checks — over one kept-alive
connection (:mod:`entrepot.targets.s3_http`), and turns an error reply into the
``ClientError`` boto3 would have raised, so error translation stays in one
place.  Everything else (multipart, HEAD, listings, copies) goes through
boto3.  HTTPS is checked against the same CA bundle boto3 uses (or
``ca_file``); with a proxy configured the target does not use this path at
all (:func:`entrepot.targets.s3_client.fast_put_refusal`).

A body of one block or less goes out in one write with the request head;
a larger one block by block, each reported to ``progress`` (which keeps the
call's deadline alive).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError, NoCredentialsError
from botocore.httpsession import get_cert_path

from entrepot.targets.s3_http import IdleClosed, KeptConnection
from entrepot.targets.s3_signing import SigV4
from entrepot.targets.transfer import Progress

_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


class SignedPut:
    """PUT one object in one signed request; one instance per target (per thread)."""

    def __init__(
        self,
        session: Any,
        endpoint_url: str,
        region: str,
        bucket: str,
        *,
        path_style: bool,
        timeout: float,
        ca_file: str | None = None,
        verify_tls: bool = True,
    ) -> None:
        self.session = session
        self.region = region
        self.timeout = timeout
        parts = urlsplit(endpoint_url)
        self.https = parts.scheme == "https"
        self.port = parts.port or (443 if self.https else 80)
        host = parts.hostname or ""
        if not path_style and not _is_ip(host) and host != "localhost":
            self.host, self.prefix = f"{bucket}.{host}", ""
        else:
            self.host, self.prefix = host, f"/{quote(bucket)}"
        self.netloc = self.host if parts.port is None else f"{self.host}:{parts.port}"
        self.context: ssl.SSLContext | None = None
        if self.https:
            self.context = ssl.create_default_context(cafile=ca_file or get_cert_path(True))
            if not verify_tls:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
        self._conn = KeptConnection(self.host, self.port, timeout=timeout, context=self.context)
        self._signer: SigV4 | None = None

    def put(self, key: str, body: bytes, progress: Progress) -> str | None:
        """Store ``body`` under ``key``; return the ETag the store answered."""
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        path = f"{self.prefix}/{quote(key, safe='/~')}"
        headers = self._sign_with().sign(
            "PUT",
            self.netloc,
            path,
            {
                "Content-MD5": base64.b64encode(digest).decode("ascii"),
                "Content-Length": str(len(body)),
                "Content-Type": "application/octet-stream",
            },
            body,
        )
        for attempt in (1, 2):
            reused = self._conn.is_open
            try:
                response = self._conn.request("PUT", path, headers, body, progress)
            except (IdleClosed, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the store closed while idle: PUT is
                # idempotent, so one more try on a new connection is safe.
                if attempt == 2 or not reused:
                    raise
                continue
            if response.status >= 300:
                raise _client_error(response.status, response.body)
            return response.headers.get("etag")
        raise AssertionError("unreachable")

    def _sign_with(self) -> SigV4:
        """A signer for the current credentials (temporary ones may have been renewed)."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        frozen = credentials.get_frozen_credentials()
        wanted = (frozen.access_key, frozen.secret_key, frozen.token)
        signer = self._signer
        if signer is None or (signer.access_key, signer.secret_key, signer.token) != wanted:
            signer = self._signer = SigV4(*wanted, self.region)
        return signer

    def close(self) -> None:
        self._conn.close()

    def hang_up(self) -> None:
        """Shut the connection down (from another thread), failing a request under way."""
        self._conn.hang_up()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _client_error(status: int, body: bytes) -> ClientError:
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    error = {
        "Code": code.group(1).decode("utf-8", "replace") if code else str(status),
        "Message": message.group(1).decode("utf-8", "replace") if message else "",
    }
    return ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )
