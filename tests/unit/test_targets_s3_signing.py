"""The S3 fast path's SigV4 signatures are the ones botocore's own signer makes.

The real check is SeaweedFS, which refuses a wrong signature (the S3
contract tests go through the fast path); these tests pin the details
— keys that need encoding, session tokens, header values with spaces,
the day the signing key changes — against botocore at a fixed moment.
"""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import quote

import pytest

pytest.importorskip("botocore")

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from entrepot.targets.s3_signing import SigV4

MOMENT = datetime.datetime(2026, 12, 5, 23, 59, 58, tzinfo=datetime.UTC)


def botocore_headers(
    monkeypatch: pytest.MonkeyPatch,
    moment: datetime.datetime,
    credentials: Credentials,
    url: str,
    headers: dict[str, str],
    body: bytes,
) -> dict[str, str]:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: moment.replace(tzinfo=None))
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    S3SigV4Auth(credentials, "s3", "eu-west-3").add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("key", "token"),
    [
        ("plain.csv", None),
        ("sub dir/é b+c=d&e~f.csv", None),
        ("2026/12/05/report (final).csv", "a-session-token/with+odd=chars"),
    ],
)
def test_signatures_match_botocore(
    monkeypatch: pytest.MonkeyPatch, key: str, token: str | None
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret/with+chars", token)
    body = b"id,amount\n1,9.50\n"
    headers = {
        "Content-MD5": "ZajifYh5KDgxtmS9i38K1A==",
        "Content-Length": str(len(body)),
        "Content-Type": "application/octet-stream",
    }
    path = f"/bucket/{quote(key, safe='/~')}"
    expected = botocore_headers(
        monkeypatch, MOMENT, credentials, f"http://127.0.0.1:8333{path}", dict(headers), body
    )
    signer = SigV4(credentials.access_key, credentials.secret_key, token, "eu-west-3")
    ours = signer.sign("PUT", "127.0.0.1:8333", path, headers, body, now=MOMENT.timestamp())
    assert ours["Authorization"] == expected["Authorization"]
    assert ours["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    if token:
        assert ours["x-amz-security-token"] == token


def test_the_signing_key_follows_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", None)
    signer = SigV4("AKIDEXAMPLE", "secret", None, "eu-west-3")
    for moment in (MOMENT, MOMENT + datetime.timedelta(seconds=5)):  # across midnight
        expected = botocore_headers(
            monkeypatch, moment, credentials, "https://b.example.org/k", {}, b"data"
        )
        ours = signer.sign("PUT", "b.example.org", "/k", {}, b"data", now=moment.timestamp())
        assert ours["Authorization"] == expected["Authorization"]


def test_header_values_are_canonicalised_like_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", None)
    headers = {"Content-Type": "  text/csv;   charset=utf-8 ", "User-Agent": "not signed"}
    expected = botocore_headers(
        monkeypatch, MOMENT, credentials, "http://h:1/b/k", dict(headers), b""
    )
    ours = SigV4("AKIDEXAMPLE", "secret", None, "eu-west-3").sign(
        "PUT", "h:1", "/b/k", headers, b"", now=MOMENT.timestamp()
    )
    assert ours["Authorization"] == expected["Authorization"]
    assert "user-agent" not in ours["Authorization"]


def test_a_payload_hash_given_is_signed_as_if_computed() -> None:
    signer = SigV4("AKIDEXAMPLE", "secret", None, "eu-west-3")
    body = b"payload" * 1000
    computed = signer.sign("PUT", "h:1", "/b/k", {}, body, now=MOMENT.timestamp())
    given = signer.sign(
        "PUT", "h:1", "/b/k", {}, b"", now=MOMENT.timestamp(),
        payload_hash=hashlib.sha256(body).hexdigest(),
    )  # fmt: skip
    assert given == computed
