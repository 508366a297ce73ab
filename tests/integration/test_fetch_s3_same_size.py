"""An S3 object whose ETag carries no MD5 (a multipart upload, ``"…-2"``), fetched while a
file of its local name and of the same size, but other bytes, waits in ``new/`` (real
SeaweedFS; both request paths: the direct one and boto3's).

What was wrong: without claims (the default) a fetch compared only the sizes of the
object it had downloaded and of the file waiting.  The same size counted as the same
file — the copy an earlier run had published before it died — so the object was
deleted, the run said ``ok`` and the object's bytes existed nowhere.  A single-PUT
object was safe only because its ETag is an MD5, compared before any download.

What is expected now: with or without claims, the object is downloaded and compared
byte for byte; other bytes: it is deferred, left in the bucket, the file waiting
untouched, and fetched once that file has gone on.  The same bytes (a run died
between its publish and the delete): the object is removed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger
from entrepot.ship import Fetcher, ShipOptions
from entrepot.ship.claimed import FetchClaims, source_identity
from entrepot.ship.route import Report
from entrepot.spool import Spool

pytestmark = [pytest.mark.server]

NAME = "big.bin"
PART = 5 * 1024 * 1024  # the smallest part but the last one
PATHS = pytest.mark.parametrize("fast_put", [True, False], ids=["direct", "boto3"])
CLAIMS = pytest.mark.parametrize("claims", [False, True], ids=["no-claims", "claims"])


def _body(first: int) -> bytes:
    return bytes([first]) * PART + bytes([first + 1]) * 4


def _put_multipart(folder: Any, body: bytes) -> str:
    """Write ``body`` under NAME in two parts; its ETag, without quotes."""
    client, key = folder.client(), f"{folder.prefix}/{NAME}"
    upload = client.create_multipart_upload(Bucket=folder.bucket, Key=key)["UploadId"]
    parts = []
    for number, chunk in enumerate((body[:PART], body[PART:]), start=1):
        reply = client.upload_part(
            Bucket=folder.bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk
        )
        parts.append({"ETag": reply["ETag"], "PartNumber": number})
    reply = client.complete_multipart_upload(
        Bucket=folder.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    return str(reply["ETag"]).strip('"')


def _fetch(folder: Any, root: Path, claims: bool, fast_put: bool) -> tuple[Fetcher, Report]:
    fetcher = Fetcher(
        Spool(root / "inbox").prepare(),
        folder.url,
        options=ShipOptions(claims=claims, instance="central-1"),
        target_options={**folder.options, "fast_put": fast_put},
    )
    if not claims:
        return fetcher, fetcher.run()
    with Ledger.open(root / "state") as ledger:
        fetcher.claims = FetchClaims(ledger, source_identity(fetcher), "central-1")
        return fetcher, fetcher.run()


@PATHS
@CLAIMS
def test_a_multipart_object_of_the_same_size_and_other_bytes_is_deferred_not_deleted(
    s3_server: Any, tmp_path: Path, fast_put: bool, claims: bool
) -> None:
    old, new = _body(ord("a")), _body(ord("A"))
    spool = Spool(tmp_path / "inbox").prepare()
    spool.publish_bytes(old, NAME)  # the earlier version, not shipped yet
    etag = _put_multipart(s3_server, new)
    assert "-" in etag  # no MD5 of the bytes: told apart only once downloaded
    fetcher, report = _fetch(s3_server, tmp_path, claims, fast_put)
    assert report.ok and report.done == [] and list(fetcher.deferred) == [NAME]
    assert s3_server.keys() == [NAME], "the new version was deleted unfetched"
    assert spool.path("new", NAME).read_bytes() == old
    # The earlier version has gone on: the new one comes in.
    os.unlink(spool.path("new", NAME))
    fetcher, report = _fetch(s3_server, tmp_path, claims, fast_put)
    assert report.done == [NAME] and fetcher.deferred == {}
    assert spool.path("new", NAME).read_bytes() == new
    assert s3_server.keys() == []


@CLAIMS
def test_a_multipart_object_whose_copy_waits_already_is_removed(
    s3_server: Any, tmp_path: Path, claims: bool
) -> None:
    body = _body(ord("x"))
    spool = Spool(tmp_path / "inbox").prepare()
    spool.publish_bytes(body, NAME)  # published by a run that died before the delete
    _put_multipart(s3_server, body)
    fetcher, report = _fetch(s3_server, tmp_path, claims, True)
    assert report.done == [NAME] and fetcher.deferred == {}
    assert s3_server.keys() == []
    assert os.listdir(spool.root / "new") == [NAME]
    assert spool.path("new", NAME).read_bytes() == body
