"""When S3 requests go the direct way, when boto3 is asked, and when it is not even loaded.

Issue 10, operator polish: the fast path ignored ``HTTPS_PROXY``,
``NO_PROXY`` and custom CA bundles, which boto3 honours — it steps aside
for them.  Issue 12: with the keys given and nothing in the environment
for boto3 to add, a shipping run's requests (PUTs and listings) go the
direct way without importing boto3 at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets import open_target
from entrepot.targets.s3_client import boto3_needed, fast_put_refusal, session_for

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("targets-s3")]


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_fast_path_when_nothing_is_set(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    with s3_server.open() as target:
        target.upload_bytes(b"fast", "a.txt")
        assert target._direct is not None
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
        assert target._direct is None
        assert info.checksum is not None  # the ETag still verifies the upload
    assert s3_server.keys() == ["b.txt"]


def test_a_ca_bundle_for_boto3_matters_for_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = session_for("AK-bundle-test", "SK", None, None)
    assert fast_put_refusal(session, "https://s3.example.org", None) is not None
    assert fast_put_refusal(session, "https://s3.example.org", "/my/ca.pem") is None
    assert fast_put_refusal(session, "http://127.0.0.1:8333", None) is None


def test_boto3_is_asked_whenever_its_configuration_could_change_the_requests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear(monkeypatch)
    for name in ("AWS_CA_BUNDLE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    http, https = "http://127.0.0.1:8333", "https://s3.example.org"
    assert boto3_needed(http, None, None, {}) is None
    assert boto3_needed(https, None, "eu-west-1", {}) is None
    assert boto3_needed(http, None, "eu-west-1", {"profile": "work"}) is not None
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert boto3_needed(http, None, None, {}) is not None  # the region is boto3's
    assert boto3_needed(http, None, "eu-west-1", {}) is None  # given: the variable is moot
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert boto3_needed(https, None, "eu-west-1", {}) is not None
    assert boto3_needed(https, "/my/ca.pem", "eu-west-1", {}) is None
    assert boto3_needed(http, None, "eu-west-1", {}) is None  # no TLS, no bundle
    monkeypatch.delenv("AWS_CA_BUNDLE")
    (tmp_path / "config").write_text("[default]\nca_bundle = /my/ca.pem\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert boto3_needed(https, None, "eu-west-1", {}) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert boto3_needed(http, None, "eu-west-1", {}) is not None


# A shipping run's work, in a fresh interpreter: which libraries did it load?
CHILD = r"""
import json, sys
from entrepot.targets import open_target
options = json.loads(sys.argv[2])
with open_target(sys.argv[1], **options) as target:
    target.upload_bytes(b"one", "a.csv")
    names = [info.name for info in target.list()]
    size = target.stat("a.csv").size
    loaded = ["boto3" in sys.modules, "botocore" in sys.modules]
    target.read_bytes("a.csv")  # GET: boto3's, loaded now
    loaded.append("boto3" in sys.modules)
print(json.dumps({"names": names, "size": size, "loaded": loaded}))
"""


def test_a_shipping_run_with_keys_given_never_loads_boto3(s3_server: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    env.pop("AWS_REGION", None)
    env.pop("AWS_DEFAULT_REGION", None)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, s3_server.url, json.dumps(s3_server.options)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result == {"names": ["a.csv"], "size": 3, "loaded": [False, False, True]}


def test_direct_listings_follow_continuation_tokens_and_decode_names(s3_server: Any) -> None:
    names = [f"k{n}+%&{n} é.txt" for n in range(5)] + ["sub/inner.txt"]
    with s3_server.open() as target:
        for name in names:
            target.upload_bytes(name.encode(), name)
        assert target._direct is not None
        target._page_size = 2  # five objects and a prefix: three pages
        listed = [(info.name, info.is_dir) for info in target.list()]
    assert listed == sorted([(name, False) for name in names[:5]] + [("sub", True)])


def _loopback_names() -> list[str]:
    """Names, not IP addresses, that reach the loopback: as a store's host name would."""
    names = ["127.1"]  # not an IP address to ipaddress, yet resolved to 127.0.0.1
    host = socket.gethostname()
    with contextlib.suppress(OSError):
        if socket.gethostbyname(host) == "127.0.0.1":
            names.append(host)
    return names


@pytest.mark.parametrize("host", _loopback_names())
def test_an_endpoint_named_by_host_name_is_addressed_as_boto3_does(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # boto3 puts the bucket in the path for any endpoint_url; the direct path
    # once sent "bucket.<host>" for any host but an IP address or localhost.
    _clear(monkeypatch)
    endpoint = f"http://{host}:{s3_server.port}/"
    url = f"s3://{s3_server.bucket}/{s3_server.prefix}?endpoint_url={endpoint}&region=us-east-1"
    with open_target(url, **s3_server.options) as target:
        target.upload_bytes(b"direct", "a b+c.txt")
        assert target._direct is not None
        assert target.read_bytes("a b+c.txt") == b"direct"  # through boto3
        assert target.stat("a b+c.txt") is not None  # directly
    assert s3_server.keys() == ["a b+c.txt"]


def test_an_endpoint_boto3_would_rewrite_is_left_to_boto3(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    endpoint = f"http://127.0.0.1:{s3_server.port}//"  # boto3 drops the empty segment
    url = f"s3://{s3_server.bucket}/{s3_server.prefix}?endpoint_url={endpoint}&region=us-east-1"
    with open_target(url, **s3_server.options) as target:
        target.upload_bytes(b"boto3", "a.txt")
        assert target._direct is None
    assert s3_server.keys() == ["a.txt"]
