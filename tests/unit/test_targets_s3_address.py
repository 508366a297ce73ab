"""The S3 direct path addresses every request exactly as boto3 does, or steps aside.

For a table of endpoints, buckets and keys, the URL a direct request goes
to is compared with the one botocore's own client builds for the same
endpoint and bucket (captured before it is sent, nothing leaves the
process) — for a PUT, a HEAD and a listing.  Endpoints and buckets that
boto3 addresses in ways of its own are refused by the direct path, which
then leaves the requests to boto3.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from entrepot.targets.s3_address import Unaddressable, address, addressing_refusal
from entrepot.targets.s3_direct import DirectS3, DirectSettings
from entrepot.targets.s3_signing import query_string

ENDPOINTS = [
    "http://127.0.0.1:8333",
    "http://localhost:8333",
    "https://s3.example.org",
    "https://s3.example.org/s3",  # a gateway under a path: kept, before the bucket
    "http://s3.example.org:9000/deep/prefix/",
    "http://[::1]:9000",
    "https://S3.Example.org:443",
    "HTTP://gw.example.org/a~b_c-d.e",
    "https://s3.eu-west-1.amazonaws.com",
]
BUCKETS = [
    "bucket",
    "my.bucket",  # dots: no virtual host over https
    "My_Bucket",  # not valid in DNS
    "ab",
    "x" * 64,
    "bucket-",
    "192.168.1.1",
    "a..b",
    "-bucket",
    "xn--bucket",
]
KEYS = [
    "a.csv",
    "in/a b/c~d+e.csv",
    "é/ü €.csv",
    "a?b#c&d=e;f",
    "a//b",
    "a/./b/../c",
    "%41",
    "*'()!$",
]
REFUSED = [
    ("http://gw.example.org:9000", "b--x-s3"),  # S3 Express: virtual host, session auth
    ("http://gw.example.org:9000", "b--xa-s3"),
    ("http://gw.example.org:9000", "b--ol-s3"),
    ("http://gw.example.org:9000", "a/b"),  # boto3 refuses the name
    ("http://gw.example.org:9000", "a b"),
    ("http://gw.example.org:9000", ""),
    ("https://s3-accelerate.amazonaws.com", "bucket"),
    ("http://gw.example.org/a//b", "bucket"),  # paths boto3 rewrites
    ("http://gw.example.org/a/./b", "bucket"),
    ("http://gw.example.org/a/../b", "bucket"),
    ("http://gw.example.org/a%20b", "bucket"),
    ("http://gw.example.org/a+b", "bucket"),
    ("http://gw.example.org/?x=1", "bucket"),
    ("http://gw.example.org/#f", "bucket"),
    ("http://user:pw@gw.example.org/", "bucket"),
    ("http://[fe80::1%25eth0]:9000", "bucket"),
    ("ftp://gw.example.org", "bucket"),
    ("http://gw.example.org:port", "bucket"),
]


class _Captured(Exception):
    """Raised from botocore's before-send hook: the request is seen, never sent."""


_clients: dict[str, Any] = {}


def boto3_url(endpoint: str, operation: str, **params: Any) -> str:
    """The URL botocore's S3 client sends ``operation`` to, as a target's client is set up."""
    client = _clients.get(endpoint)
    if client is None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id="AK", aws_secret_access_key="SK")
        client = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            # As entrepot.targets.s3_client.new_client sets it (path_style=false).
            config=Config(s3={"addressing_style": "auto"}, retries={"total_max_attempts": 1}),
        )

        def capture(request: Any, **kwargs: Any) -> None:
            client.captured = request.url
            raise _Captured

        client.meta.events.register("before-send.s3", capture)
        _clients[endpoint] = client
    with pytest.raises(_Captured):
        getattr(client, operation)(**params)
    return str(client.captured)


def _same_url(direct: str, boto: str) -> None:
    mine, theirs = urlsplit(direct), urlsplit(boto)
    assert (mine.scheme, mine.netloc, mine.path) == (theirs.scheme, theirs.netloc, theirs.path)
    assert sorted(parse_qsl(mine.query)) == sorted(parse_qsl(theirs.query))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_the_direct_path_addresses_requests_as_boto3(endpoint: str, bucket: str) -> None:
    where = address(endpoint, bucket)
    for key in KEYS:
        put = boto3_url(endpoint, "put_object", Bucket=bucket, Key=key, Body=b"")
        assert where.url(where.path(key)) == put
        head = boto3_url(endpoint, "head_object", Bucket=bucket, Key=key)
        assert where.url(where.path(key)) == head
    params = {"list-type": "2", "encoding-type": "url", "max-keys": "1000", "prefix": "in/a b/"}
    params["delimiter"] = "/"
    listing = boto3_url(
        endpoint,
        "list_objects_v2",
        Bucket=bucket,
        Prefix="in/a b/",
        Delimiter="/",
        MaxKeys=1000,
        EncodingType="url",
    )
    _same_url(where.url(f"{where.path(None)}?{query_string(params)}"), listing)


def test_the_direct_path_keeps_the_endpoints_path_and_the_bucket_out_of_the_host() -> None:
    settings = DirectSettings("https://s3.example.org/s3", "bucket", ca_file=None)
    direct = DirectS3(lambda: ("AK", "SK", None), "us-east-1", settings)
    try:
        assert direct.address.url(direct.address.path("a.csv")) == (
            "https://s3.example.org/s3/bucket/a.csv"
        )
        assert (direct.address.host, direct.address.port) == ("s3.example.org", 443)
    finally:
        direct.close()


@pytest.mark.parametrize(("endpoint", "bucket"), REFUSED)
def test_what_boto3_addresses_in_ways_of_its_own_is_left_to_it(endpoint: str, bucket: str) -> None:
    assert addressing_refusal(endpoint, bucket) is not None
    with pytest.raises(Unaddressable):
        DirectS3(lambda: ("AK", "SK", None), "us-east-1", DirectSettings(endpoint, bucket))
