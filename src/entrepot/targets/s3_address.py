"""Where the S3 direct path sends a bucket's requests: the URL boto3 would use.

boto3, given an ``endpoint_url`` (not an S3 Accelerate one) and the
addressing style ``auto`` or ``path`` — the only two a target asks for —
puts the bucket in the path, never in the host name, whatever the bucket
or host: ``https://gw.example.org/s3/bucket/key`` for the endpoint
``https://gw.example.org/s3`` (botocore's ``AWS::S3::ForcePathStyle``
is set for every custom endpoint, and its endpoint rules then build
``scheme://authority/path/bucket``).  :func:`address` builds the same
URL, so a direct request reaches the object a boto3 request would.

Where boto3 does something of its own, the direct path steps aside
(:func:`addressing_refusal`) rather than imitate it: S3 Express buckets
(virtual-hosted, with session credentials) and other names with a
reserved ``--…-s3`` suffix, names boto3 refuses, Accelerate endpoints, an
endpoint path it would normalise or re-encode (``//``, ``.``, ``..``,
``%``, anything but unreserved characters), a query, a fragment, user
information or an IPv6 zone in the endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

__all__ = ["Address", "Unaddressable", "address", "addressing_refusal"]

#: Bucket names botocore accepts (its ``validate_bucket_name``), ARNs aside.
_BUCKET = re.compile(r"[a-zA-Z0-9.\-_]{1,255}")
#: Suffixes AWS reserves for buckets it addresses in ways of its own (S3
#: Express ``--x-s3``, ``--xa-s3``; access point aliases ``--ol-s3``, ``--op-s3``…).
_RESERVED_SUFFIX = re.compile(r"--[a-z0-9-]*-s3\Z")
#: One segment of an endpoint path that boto3 sends as written.
_SEGMENT = re.compile(r"[A-Za-z0-9_.~-]+")


class Unaddressable(ValueError):
    """The direct path would not address this endpoint and bucket as boto3 does."""


@dataclass(frozen=True)
class Address:
    """Where a bucket's requests go: the connection, the ``Host`` and the bucket's path."""

    https: bool
    #: The host to connect to (an IPv6 address without brackets), and the port.
    host: str
    port: int
    #: The endpoint's host and port as written: the ``Host`` header, and signed.
    netloc: str
    #: The bucket's path: the endpoint's path, then the bucket (``/s3/bucket``).
    prefix: str

    def path(self, key: str | None) -> str:
        """The path of the object ``key`` (None: of the bucket), percent-encoded as boto3 does."""
        return self.prefix if key is None else f"{self.prefix}/{quote(key, safe='/~')}"

    def url(self, target: str) -> str:
        """The full URL of a request target (a :meth:`path` and its query)."""
        return f"{'https' if self.https else 'http'}://{self.netloc}{target}"


def address(endpoint_url: str, bucket: str) -> Address:
    """Where requests for ``bucket`` at ``endpoint_url`` go; :class:`Unaddressable` if in doubt."""
    if not _BUCKET.fullmatch(bucket):
        raise Unaddressable(f"boto3 refuses the bucket name {bucket!r}")
    if _RESERVED_SUFFIX.search(bucket):
        raise Unaddressable(f"boto3 addresses the bucket {bucket!r} in a way of its own")
    parts = urlsplit(endpoint_url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise Unaddressable("the endpoint is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "@" in parts.netloc or "%" in parts.netloc:
        raise Unaddressable("the endpoint has a query, a fragment, user information or a zone")
    if parts.hostname.startswith("s3-accelerate.") and parts.hostname.endswith("amazonaws.com"):
        raise Unaddressable("boto3 addresses S3 Accelerate endpoints in a way of its own")
    segments = parts.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash: boto3 adds one anyway before the bucket
    if parts.path[:1] not in {"", "/"} or not all(
        _SEGMENT.fullmatch(s) and s not in {".", ".."} for s in segments
    ):
        raise Unaddressable("boto3 would rewrite the endpoint's path")
    https = scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        raise Unaddressable("the endpoint's port is not a number") from None
    prefix = "".join(f"/{segment}" for segment in segments) + f"/{quote(bucket)}"
    return Address(https, parts.hostname, port, parts.netloc, prefix)


def addressing_refusal(endpoint_url: str, bucket: str) -> str | None:
    """Why the direct path cannot address ``bucket`` at ``endpoint_url`` as boto3 does, or None."""
    try:
        address(endpoint_url, bucket)
    except Unaddressable as exc:
        return str(exc)
    return None
