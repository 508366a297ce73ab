"""In a real browser: who may do what — a wrong token, a viewer, a form without its CSRF token.

Against ``entrepot serve`` in a subprocess (``tests/browser/_served.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._served import Served, log_in, served_dashboard
from tests.browser.conftest import Screenshots
from tests.servers._common import wait_until

pytestmark = pytest.mark.server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_dashboard(tmp_path / "service") as running:
        yield running


def backlog(served: Served) -> int:
    return int(served.api("/api/overview")["jobs_by_state"].get("backlog", 0))


def csrf_of(page: Any) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    return str(page.locator('input[name="csrf"]').first.get_attribute("value"))


def test_a_wrong_token_is_refused(served: Served, page: Any, shots: Screenshots) -> None:
    page.goto(served.url + "/config")
    assert page.url.startswith(served.url + "/login")  # sent to the form first
    page.get_by_label("Token").fill(served.tokens["operator"] + "x")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not valid" in alert.inner_text()
    shots(page, "login-refused")
    assert not [c for c in page.context.cookies() if c["name"] == "entrepot_session"]
    page.goto(served.url + "/config")
    assert page.url.startswith(served.url + "/login")


def test_the_session_cookie_is_http_only_and_strict(served: Served, page: Any) -> None:
    log_in(page, served.url, served.tokens["viewer"])
    [cookie] = [c for c in page.context.cookies() if c["name"] == "entrepot_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    # Scripts cannot read it.
    assert "entrepot_session" not in page.evaluate("document.cookie")


def test_a_viewer_cannot_press_retry_nor_post_it(
    served: Served, page: Any, shots: Screenshots
) -> None:
    served.ftp.stop()  # the route fails: its job waits in the backlog
    (served.outbox / "new" / "late.csv").write_text("a,b\n1,2\n")
    wait_until(lambda: backlog(served) == 1, timeout=60, what="the failed run's backlog job")
    log_in(page, served.url, served.tokens["viewer"])
    page.get_by_role("heading", name="Overview").wait_for()
    [job] = served.api("/api/overview")["open_jobs"]["items"]
    assert page.get_by_role("button", name=re.compile("Retry")).count() == 0
    assert page.get_by_role("button", name=re.compile("Drop")).count() == 0
    shots(page, "overview-viewer")
    # The viewer's own session, its own CSRF token: still refused, and nothing runs.
    refused = page.request.post(
        f"{served.url}/jobs/{job['id']}/retry",
        form={"csrf": csrf_of(page)},
        max_redirects=0,
    )
    assert refused.status == 403
    assert backlog(served) == 1
    served.ftp.start()


def test_a_form_post_without_its_csrf_token_is_refused(
    served: Served, page: Any, shots: Screenshots
) -> None:
    log_in(page, served.url, served.tokens["operator"])
    page.goto(served.url + "/config")
    shots(page, "config")
    before = served.api("/api/config")["generation"]
    # The browser's own session cookie goes with these posts; only the token is missing.
    for form in ({}, {"csrf": "forged"}):
        refused = page.request.post(served.url + "/config/reload", form=form, max_redirects=0)
        assert refused.status == 403
        assert "CSRF" in refused.text()
    assert served.api("/api/config")["generation"] == before
    # With it, the same post is done.
    done = page.request.post(
        served.url + "/config/reload",
        form={"csrf": csrf_of(page)},
        headers={"Accept": "text/html"},
        max_redirects=0,
    )
    assert done.status == 303
    assert served.api("/api/config")["generation"] == before + 1
