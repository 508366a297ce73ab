"""``entrepot serve`` serves the dashboard on its endpoint, behind the token — or not at all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.integration._service import Service, service_json, services_fixture  # noqa: F401
from tests.servers._common import wait_until
from tests.web.conftest import write_config


def _address(service: Service, state_dir: Path) -> str:
    wait_until(lambda: (service_json(state_dir) or {}).get("listen") not in (None, ""),
               what="the address")  # fmt: skip
    data = service_json(state_dir)
    assert data is not None
    return str(data["listen"])


def test_serve_shows_the_dashboard_to_a_logged_in_operator(
    tmp_path: Path, services: list[Service]
) -> None:
    config = write_config(tmp_path)
    service = Service(config)
    services.append(service.start())
    url = _address(service, tmp_path / "state")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    token = (tmp_path / "operator.token").read_text().strip()
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        assert client.get("/config").status_code == 303  # to the login form
        assert client.post("/login", data={"token": token}).status_code == 303
        page = client.get("/config")
        assert page.status_code == 200 and "Reload the configuration file" in page.text
    assert "web.login" in service.log()
    assert token not in service.log()
    assert service.stop() == 0


def test_without_an_operator_token_there_is_no_dashboard(
    tmp_path: Path, services: list[Service]
) -> None:
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(text.replace('token_file = "operator.token"\n', ""))
    service = Service(config)
    services.append(service.start())
    url = _address(service, tmp_path / "state")
    viewer = (tmp_path / "viewer.token").read_text().strip()
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/login").status_code == 401  # the endpoint's own guard: no page
        headers = {"Authorization": f"Bearer {viewer}"}
        assert client.get("/login", headers=headers).status_code == 404
        assert client.get("/metrics", headers=headers).status_code == 200
    assert "http.dashboard_off" in service.log()
    assert service.stop() == 0
