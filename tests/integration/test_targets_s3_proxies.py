"""The S3 fast path for small objects steps aside for boto3 when proxies or CA bundles are set.

Issue 10, operator polish: the fast path ignored ``HTTPS_PROXY``,
``NO_PROXY`` and custom CA bundles, which boto3 honours.
"""

from __future__ import annotations

from typing import Any

import pytest

from entrepot.targets.s3_client import fast_put_refusal, session_for

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("targets-s3")]


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_fast_path_when_nothing_is_set(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    with s3_server.open() as target:
        target.upload_bytes(b"fast", "a.txt")
        assert target._signed_put is not None
    assert s3_server.keys() == ["a.txt"]


def test_proxy_settings_send_small_objects_through_boto3(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    # boto3 goes around the proxy for the loopback endpoint; the fast path must not guess.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with s3_server.open() as target:
        info = target.upload_bytes(b"through boto3", "b.txt")
        assert target._signed_put is None
        assert info.checksum is not None  # the ETag still verifies the upload
    assert s3_server.keys() == ["b.txt"]


def test_a_ca_bundle_for_boto3_matters_for_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = session_for("AK-bundle-test", "SK", None, None)
    assert fast_put_refusal(session, "https://s3.example.org", None) is not None
    assert fast_put_refusal(session, "https://s3.example.org", "/my/ca.pem") is None
    assert fast_put_refusal(session, "http://127.0.0.1:8333", None) is None
