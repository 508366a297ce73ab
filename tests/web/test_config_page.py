"""The configuration page: what runs, its problems, the reload — and never a secret."""

from __future__ import annotations

import os

from tests.web.conftest import Dashboard


def test_the_page_shows_the_configuration_in_use(dashboard: Dashboard) -> None:
    data = dashboard.client("viewer").get("/api/config").json()
    assert data["file"] == str(dashboard.config_path)
    assert data["generation"] == 1
    assert data["valid"] is True and data["problems"] == []
    assert data["last_reload"] is None
    assert data["sections"]["routes"]["outbox-to-partner"]["target"] == "partner"
    page = dashboard.client("viewer").get("/config")
    assert page.status_code == 200
    assert "outbox-to-partner" in page.text and "[routes]" in page.text


def test_a_reload_is_shown_and_a_broken_file_is_refused(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    text = dashboard.config_path.read_text()
    dashboard.config_path.write_text(text.replace('target = "partner"', 'target = "nobody"'))
    refused = operator.post("/api/config/reload")
    assert refused.status_code == 409
    assert refused.json()["ok"] is False
    assert any("nobody" in p for p in refused.json()["problems"])
    assert dashboard.daemon.generation == 1
    dashboard.config_path.write_text(text.replace('scan_every = "1s"', 'scan_every = "2s"'))
    accepted = operator.post("/api/config/reload").json()
    assert accepted["ok"] is True and accepted["generation"] == 2
    data = operator.get("/api/config").json()
    assert data["generation"] == 2 and data["last_reload"]["ok"] is True


def test_secrets_are_shown_as_their_references_only(dashboard: Dashboard) -> None:
    os.environ["WEB_TEST_SFTP_PW"] = "s3cr3t-Pa55"
    try:
        text = dashboard.config_path.read_text()
        vault = '[targets.vault]\nurl = "sftp://bob@127.0.0.1:1/x"\n'
        vault += 'password_env = "WEB_TEST_SFTP_PW"'
        dashboard.config_path.write_text(f"{text}\n{vault}\n")
        assert dashboard.client("operator").post("/api/config/reload").json()["ok"] is True
        for path in ("/config", "/api/config"):
            body = dashboard.client("viewer").get(path).text
            assert "WEB_TEST_SFTP_PW" in body
            assert "s3cr3t-Pa55" not in body
    finally:
        del os.environ["WEB_TEST_SFTP_PW"]
