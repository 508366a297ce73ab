"""The route and target pages through the real endpoint: history, throughput, last errors,
the target check (operator only, CSRF-checked), and never a secret."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrepot.spool import Spool
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard, running_dashboard

ROUTE = "outbox-to-partner"


def _delivered(dashboard: Dashboard, count: int) -> None:
    outbox = Spool(dashboard.root / "outbox")
    for number in range(count):
        outbox.publish_bytes(b"x" * (100 + number), f"file-{number}.csv")
    partner = dashboard.root / "partner"
    wait_until(lambda: len(list(partner.iterdir())) == count, what="the deliveries")
    client = dashboard.client("viewer")

    def counted() -> bool:
        hours = client.get(f"/api/routes/{ROUTE}").json()["throughput"]["hours"]
        return sum(hour["files"] for hour in hours) == count

    wait_until(counted, what="the deliveries in the provenance record")


def test_a_route_shows_its_history_and_throughput(dashboard: Dashboard) -> None:
    _delivered(dashboard, 3)
    viewer = dashboard.client("viewer")
    listing = viewer.get("/api/routes").json()
    (route,) = listing["routes"]
    assert route["name"] == ROUTE and route["last_outcome"] == "succeeded"
    assert listing["targets"][0]["url"] == (dashboard.root / "partner").as_uri()
    data = viewer.get(f"/api/routes/{ROUTE}").json()
    assert data["route"]["spool"] == "outbox" and data["route"]["target"] == "partner"
    runs = data["history"]["runs"]
    assert runs and sum(run["items"] for run in runs) == 3
    assert all(run["outcome"] == "succeeded" for run in runs)
    assert sum(run["bytes"] for run in runs) == 100 + 101 + 102
    hours, days = data["throughput"]["hours"], data["throughput"]["days"]
    assert len(hours) == 24 and len(days) == 7
    assert hours[-1]["files"] == 3 and hours[-1]["bytes"] == 303 and days[-1]["files"] == 3
    assert data["errors"] == {"runs": [], "files": []}
    page = viewer.get(f"/routes/{ROUTE}")
    assert page.status_code == 200
    assert "Delivered per hour, last 24 hours: 3 files" in page.text and "<svg" in page.text
    assert viewer.get("/routes").status_code == 200
    target = viewer.get("/api/routes/targets/partner").json()
    assert target["target"]["routes"] == [ROUTE]
    assert target["throughput"]["days"][-1]["files"] == 3
    assert sum(run["items"] for run in target["history"]["runs"]) == 3


def test_history_is_paginated(dashboard: Dashboard) -> None:
    outbox = Spool(dashboard.root / "outbox")
    viewer = dashboard.client("viewer")
    for number in range(27):
        # One file at a time: one run each.
        delivered = dashboard.root / "partner" / f"one-{number}.csv"
        outbox.publish_bytes(b"x", delivered.name)
        wait_until(delivered.exists, what="the delivery")

    def second_page() -> bool:
        reply = viewer.get(f"/api/routes/{ROUTE}", params={"page": 2})
        return bool(reply.json()["history"]["runs"])

    wait_until(second_page, what="a second page of runs")
    first = viewer.get(f"/api/routes/{ROUTE}").json()["history"]
    second = viewer.get(f"/api/routes/{ROUTE}", params={"page": 2}).json()["history"]
    assert len(first["runs"]) == 25 and first["has_next"] is True
    ids = [run["run_id"] for run in first["runs"] + second["runs"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert 'href="/routes/outbox-to-partner?page=2"' in viewer.get(f"/routes/{ROUTE}").text


def test_a_failing_route_shows_its_errors(dashboard: Dashboard) -> None:
    # A folder where the file must go: this one file cannot be delivered.
    (dashboard.root / "partner" / "stuck.csv").mkdir()
    Spool(dashboard.root / "outbox").publish_bytes(b"x", "stuck.csv")
    viewer = dashboard.client("viewer")

    def failed() -> bool:
        errors = viewer.get(f"/api/routes/{ROUTE}").json()["errors"]
        return bool(errors["runs"]) and bool(errors["files"])

    wait_until(failed, what="the failure on the route page")
    errors = viewer.get(f"/api/routes/{ROUTE}").json()["errors"]
    assert errors["runs"][0]["error"] and errors["runs"][0]["code"] > 0
    assert errors["files"][0]["name"] == "stuck.csv"
    page = viewer.get(f"/routes/{ROUTE}").text
    assert "stuck.csv" in page and "Files whose delivery failed" in page


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_the_target_check_is_for_operators_only(dashboard: Dashboard) -> None:
    page = "/routes/targets/partner"
    check = f"{page}/check"
    viewer = dashboard.client("viewer")
    assert "Check now" not in viewer.get(page).text
    assert viewer.post(f"/api{check}").status_code == 403
    browser = dashboard.login("viewer")
    assert browser.post(check, data={"csrf": _csrf(browser, page)}).status_code == 403
    assert "checked" not in str(viewer.get(f"/api{page}").json()["check"])
    operator = dashboard.client("operator")
    done = operator.post(f"/api{check}")
    assert done.status_code == 200 and done.json()["ok"] is True
    assert viewer.get(f"/api{page}").json()["check"]["ok"] is True
    # A browser session needs the form's CSRF token.
    session = dashboard.login("operator")
    assert "Check now" in session.get(page).text
    assert session.post(check, data={}).status_code == 403
    shutil.rmtree(dashboard.root / "partner")
    reply = session.post(check, data={"csrf": _csrf(session, page)})
    assert reply.status_code == 303 and reply.headers["location"] == page
    shown = session.get(page).text
    assert "failed its check" in shown and "✗" in shown
    assert operator.post(f"/api{check}").status_code == 502


@pytest.fixture
def with_vault(tmp_path: Path) -> Iterator[Dashboard]:
    os.environ["WEB_ROUTES_VAULT_PW"] = "s3cr3t-Vault-99"
    vault = (
        '[targets.vault]\nurl = "ftp://bob@127.0.0.1:1/in"\npassword_env = "WEB_ROUTES_VAULT_PW"\n'
    )
    vault += "options = { timeout = 2 }\n"
    vault += '[routes.to-vault]\nspool = "outbox"\ntarget = "vault"\nevery = "1h"\n'
    try:
        with running_dashboard(tmp_path, extra=vault) as running:
            yield running
    finally:
        del os.environ["WEB_ROUTES_VAULT_PW"]


def test_no_secret_is_ever_shown(with_vault: Dashboard) -> None:
    dashboard = with_vault
    operator = dashboard.client("operator")
    result = operator.post("/api/routes/targets/vault/check")
    assert result.status_code == 502 and result.json()["ok"] is False
    assert "s3cr3t" not in result.text
    for path in ("/routes", "/routes/to-vault", "/routes/targets/vault"):
        for prefix in ("", "/api"):
            body = operator.get(prefix + path).text
            assert "s3cr3t-Vault-99" not in body, prefix + path
    target = operator.get("/api/routes/targets/vault").json()["target"]
    assert target["password_env"] == "WEB_ROUTES_VAULT_PW"
    assert target["url"] == "ftp://bob@127.0.0.1:1/in"


def test_unknown_names_are_not_found(dashboard: Dashboard) -> None:
    viewer = dashboard.client("viewer")
    operator = dashboard.client("operator")
    for path in ("/routes/nope", "/routes/targets/nope", "/routes/%3Cscript%3E"):
        for prefix in ("", "/api"):
            reply = viewer.get(prefix + path)
            assert reply.status_code == 404 and "<script>" not in reply.text
    assert operator.post("/api/routes/targets/nope/check").status_code == 404
