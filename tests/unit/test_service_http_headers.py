"""Every answer of the HTTP endpoint carries the security headers, not only the dashboard's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrepot.jobs import Ledger
from entrepot.service.http import HttpEndpoint, start_http
from entrepot.service.metrics import PrometheusTelemetry
from tests.unit.test_service_http import TOKEN, bearer, make_config


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[HttpEndpoint]:
    with Ledger.open(tmp_path / "state") as ledger:
        telemetry = PrometheusTelemetry(make_config(tmp_path), ledger=ledger)
        telemetry.config_loaded(1, True)
        served = start_http(make_config(tmp_path), telemetry, listen="127.0.0.1:0")
        assert served is not None
        yield served
        served.stop()


def assert_secured(headers: httpx.Headers | dict[str, str], where: str) -> None:
    csp = headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert headers.get("cache-control") == "no-store", where


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        ("/healthz", None, 200),
        ("/readyz", None, 401),
        ("/readyz", TOKEN, 200),
        ("/metrics", None, 401),
        ("/metrics", TOKEN, 200),
        ("/no-such-page", TOKEN, 404),
    ],
)
def test_the_endpoints_own_answers_carry_the_headers(
    endpoint: HttpEndpoint, path: str, token: str | None, status: int
) -> None:
    reply = httpx.get(endpoint.url + path, headers=bearer(token) if token else {})
    assert reply.status_code == status
    assert_secured(reply.headers, f"{path} ({status})")
    # Once each, however many layers the answer went through.
    assert len(reply.headers.get_list("content-security-policy")) == 1


def test_a_request_for_another_host_gets_a_secured_404(endpoint: HttpEndpoint) -> None:
    request = f"GET http://elsewhere.example/healthz HTTP/1.1\r\nHost: x\r\n{_auth()}\r\n"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    assert head[0] == "HTTP/1.1 404 Not Found"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    assert_secured(headers, "absolute-form target")


def _auth() -> str:
    return f"Authorization: Bearer {TOKEN}\r\n"
