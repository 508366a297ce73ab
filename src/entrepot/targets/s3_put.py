"""Small S3 PUTs without the boto3 client's per-request machinery.

A boto3 ``put_object`` spends a few milliseconds of CPU in parameter
handling, endpoint rules, event hooks and response parsing; for thousands of
4 KiB files that, not the network, sets the pace (measured in
``docs/benchmarks.md``).  :class:`SignedPut` sends the same request — signed
by botocore's own SigV4 signer, with a ``Content-MD5`` the store checks —
over a urllib3 connection pool, and turns an error reply into the
``ClientError`` boto3 would have raised, so error translation stays in one
place.  Everything else (multipart, HEAD, listings, copies) goes through
boto3.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, NoCredentialsError

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
        parts = urlsplit(endpoint_url)
        host = parts.hostname or ""
        if not path_style and not _is_ip(host) and host != "localhost":
            self.base = f"{parts.scheme}://{bucket}.{parts.netloc}"
        else:
            self.base = f"{parts.scheme}://{parts.netloc}/{quote(bucket)}"
        context = None
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)
            if not verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        self.pool = urllib3.PoolManager(
            maxsize=2,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            ssl_context=context,
        )

    def put(self, key: str, body: bytes) -> str | None:
        """Store ``body`` under ``key``; return the ETag the store answered."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        request = AWSRequest(
            method="PUT",
            url=f"{self.base}/{quote(key, safe='/~')}",
            data=body,
            headers={
                "Content-MD5": base64.b64encode(digest).decode("ascii"),
                "Content-Length": str(len(body)),
                "Content-Type": "application/octet-stream",
            },
        )
        S3SigV4Auth(credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
        prepared = request.prepare()
        response = self.pool.request(
            "PUT",
            prepared.url,
            body=body,
            headers=dict(prepared.headers.items()),
            redirect=False,
        )
        if response.status >= 300:
            raise _client_error(response.status, response.data)
        etag = response.headers.get("ETag")
        return str(etag) if etag else None

    def close(self) -> None:
        self.pool.clear()


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
