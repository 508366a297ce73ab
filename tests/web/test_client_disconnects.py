"""A client that hangs up mid-request, or sends a broken form, is a log line, not an error."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration._service import Service, service_json, services_fixture  # noqa: F401
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard, write_config

LOGIN_CUT_OFF = (
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100\r\n\r\ntoken=a"
)
BROKEN_MULTIPART = (
    b"--other\r\nContent-Disposition: form-data; name=token\r\n\r\nx\r\n--other--\r\n"
)


def send_and_hang_up(url: str, request: bytes) -> None:
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(request)


def gone(caplog: pytest.LogCaptureFixture, path: str) -> bool:
    return any(
        getattr(record, "event", None) == "http.client_gone" and record.fields["path"] == path  # type: ignore[attr-defined]
        for record in caplog.records
    )


def test_a_login_cut_off_is_logged_as_the_client_gone(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    send_and_hang_up(dashboard.url, LOGIN_CUT_OFF)
    wait_until(lambda: gone(caplog, "/login"), timeout=10, what="http.client_gone")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert all(record.exc_info is None for record in caplog.records)


def test_an_upload_cut_off_is_logged_and_leaves_nothing(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na\n1\n'
    request = (
        "POST /api/datacenter/upload HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {dashboard.tokens['operator']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n"
    )
    send_and_hang_up(dashboard.url, request.encode() + body)
    path = "/api/datacenter/upload"
    wait_until(lambda: gone(caplog, path), timeout=10, what="http.client_gone")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert all(record.exc_info is None for record in caplog.records)
    assert list((dashboard.root / "dc").rglob("*.part")) == []


def test_the_service_log_tells_of_clients_gone_and_broken_forms_in_its_format(
    tmp_path: Path, services: list[Service]
) -> None:
    service = Service(write_config(tmp_path))
    services.append(service.start())
    state = tmp_path / "state"
    wait_until(lambda: (service_json(state) or {}).get("listen") not in (None, ""),
               what="the address")  # fmt: skip
    url = str((service_json(state) or {})["listen"])
    send_and_hang_up(url, LOGIN_CUT_OFF)
    broken = httpx.post(
        f"{url}/login",
        content=BROKEN_MULTIPART,
        headers={"Content-Type": "multipart/form-data; boundary=form"},
    )
    assert broken.status_code == 400
    service.wait_for("http.client_gone")
    assert service.stop() == 0
    log = service.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    # Every line is one of the service's own (time, level, logger: event …), none bare.
    for line in log.splitlines():
        assert " entrepot." in line, line
