"""The login's rate limit holds against guesses sent at once and against forged addresses."""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from entrepot.web.auth import LOGIN_FAILURES, LoginLimiter
from tests.web.conftest import Dashboard


def _connect(url: str) -> socket.socket:
    address = urlsplit(url)
    return socket.create_connection((address.hostname, address.port), timeout=30)


def _status(sock: socket.socket) -> str:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_guesses_sent_at_once_are_judged_no_more_than_the_limit(dashboard: Dashboard) -> None:
    guesses = 12
    bodies = [f"token=guess-{n:02d}&next=%2F".encode() for n in range(guesses)]
    socks = [_connect(dashboard.url) for _ in bodies]
    for sock, body in zip(socks, bodies, strict=True):
        head = (
            "POST /login HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:3])
    # Every request is in the server, waiting for the rest of its body; however many of them
    # reached the login before the first was judged, no more than the limit may be judged.
    time.sleep(0.5)
    for sock, body in zip(socks, bodies, strict=True):
        sock.sendall(body[3:])
    answers = Counter(_status(sock) for sock in socks)
    for sock in socks:
        sock.close()
    assert answers == {
        "HTTP/1.1 401 Unauthorized": LOGIN_FAILURES,
        "HTTP/1.1 429 Too Many Requests": guesses - LOGIN_FAILURES,
    }
    client = dashboard.client(None, follow_redirects=False)
    assert client.post("/login", data={"token": dashboard.tokens["operator"]}).status_code == 429


def test_a_forwarded_address_does_not_escape_the_limit(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="entrepot")
    client = dashboard.client(None, follow_redirects=False)
    codes = [
        client.post(
            "/login",
            data={"token": f"guess-{n}"},
            headers={"X-Forwarded-For": f"10.0.0.{n}", "Forwarded": f"for=10.0.0.{n}"},
        ).status_code
        for n in range(LOGIN_FAILURES + 1)
    ]
    assert codes == [401] * LOGIN_FAILURES + [429]
    right = client.post(
        "/login",
        data={"token": dashboard.tokens["operator"]},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert right.status_code == 429
    refused = [r for r in caplog.records if getattr(r, "event", None) == "web.login_refused"]
    assert refused and all(r.fields["client"] == "127.0.0.1" for r in refused)  # type: ignore[attr-defined]


def test_a_forwarded_scheme_does_not_make_the_cookie_secure(dashboard: Dashboard) -> None:
    client = dashboard.client(None, follow_redirects=False)
    reply = client.post(
        "/login",
        data={"token": dashboard.tokens["viewer"]},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.1"},
    )
    assert reply.status_code == 303
    assert "secure" not in reply.headers["set-cookie"].lower()


def test_logins_in_progress_hold_their_places_until_judged() -> None:
    now = [100.0]
    limiter = LoginLimiter(failures=2, window=60, clock=lambda: now[0])
    assert limiter.reserve("a") == 0 and limiter.reserve("a") == 0
    assert limiter.reserve("a") == 60  # two in progress: a third waits
    assert limiter.reserve("b") == 0  # another address is not held up
    limiter.release("a", failed=False)
    assert limiter.reserve("a") == 0
    limiter.release("a", failed=True)
    limiter.release("a", failed=True)
    now[0] += 20
    assert limiter.reserve("a") == 40  # two failures: till the first leaves the window
    now[0] += 40
    assert limiter.reserve("a") == 0
