"""The endpoint bounds its connections: slow or silent clients are closed, their number capped.

Real sockets against the endpoint served by uvicorn on loopback, with short limits.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from entrepot.jobs import Ledger
from entrepot.service.http import ConnectionLimits, HttpEndpoint, start_http
from entrepot.service.metrics import PrometheusTelemetry
from tests.unit.test_service_http import make_config

LIMITS = ConnectionLimits(headers=1.0, body_idle=1.0, connections=6)
#: Longer than any limit above, short of a test's patience.
CLOSED_WITHIN = 5.0


async def _echo(request: Request) -> Response:
    """Reads the whole body, as a form or an upload does, and says how long it was."""
    return PlainTextResponse(str(len(await request.body())))


def _served(tmp_path: Path, ledger: Ledger, limits: ConnectionLimits) -> HttpEndpoint:
    config = make_config(tmp_path)
    telemetry = PrometheusTelemetry(config, ledger=ledger)
    echo = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])
    served = start_http(config, telemetry, listen="127.0.0.1:0", limits=limits,
                        dashboard=lambda tokens: echo)  # fmt: skip
    assert served is not None
    return served


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[HttpEndpoint]:
    with Ledger.open(tmp_path / "state") as ledger:
        served = _served(tmp_path, ledger, LIMITS)
        yield served
        served.stop()


def connect(endpoint: HttpEndpoint) -> socket.socket:
    return socket.create_connection((endpoint.host, endpoint.port), timeout=CLOSED_WITHIN * 2)


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes ``sock`` (what it answered before is skipped)."""
    start = time.monotonic()
    with contextlib.suppress(ConnectionResetError):
        while sock.recv(4096):
            pass
    return time.monotonic() - start


def test_a_connection_that_sends_nothing_is_closed(endpoint: HttpEndpoint) -> None:
    with connect(endpoint) as silent:
        assert closed_after(silent) < CLOSED_WITHIN


def test_headers_that_never_end_are_cut_off_however_slowly_they_come(
    endpoint: HttpEndpoint,
) -> None:
    with connect(endpoint) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        with pytest.raises(OSError):
            # A byte every 0.2 s: each would reset an idle timer, not the headers' deadline.
            while time.monotonic() - start < CLOSED_WITHIN:
                slow.sendall(b"X")
                time.sleep(0.2)
        assert time.monotonic() - start < CLOSED_WITHIN


def test_a_body_shorter_than_its_length_is_given_up_on(endpoint: HttpEndpoint) -> None:
    with connect(endpoint) as short:
        short.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nseven b")
        assert closed_after(short) < CLOSED_WITHIN


def test_a_slow_body_that_keeps_coming_is_read_whole(endpoint: HttpEndpoint) -> None:
    with connect(endpoint) as slow:
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for byte in b"12345678":
            time.sleep(0.4)  # past the headers' deadline in all, within the body's idle limit
            slow.sendall(bytes([byte]))
        answer = b""
        while b"\r\n\r\n" not in answer or answer.endswith(b"\r\n\r\n"):
            chunk = slow.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n8")


def test_the_number_of_connections_is_capped(tmp_path: Path) -> None:
    limits = ConnectionLimits(connections=6)  # and the default deadlines: held all along
    with Ledger.open(tmp_path / "state") as ledger:
        endpoint = _served(tmp_path, ledger, limits)
        held = [connect(endpoint) for _ in range(limits.connections)]
        try:
            for sock in held:
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
            with connect(endpoint) as extra:
                assert closed_after(extra) < CLOSED_WITHIN
        finally:
            for sock in held:
                sock.close()
        # The held ones gone, the endpoint answers again.
        deadline = time.monotonic() + CLOSED_WITHIN
        while not _answers(endpoint):
            assert time.monotonic() < deadline, "the endpoint does not answer again"
            time.sleep(0.1)
        endpoint.stop()


def _answers(endpoint: HttpEndpoint) -> bool:
    try:
        return httpx.get(f"{endpoint.url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False
