"""Every page of the dashboard, for both roles: well-formed HTML, labelled controls, headers.

The pages are not listed by hand: every ``GET`` route the dashboard's page
modules declare is fetched (its path parameters filled from data the test
puts in the service first: shipped files, an import with bad rows, sealed
archives), so a page added later is checked without anyone remembering to.
A route whose parameters the test cannot fill fails the test, by name.
HTML answers must pass :func:`tests.browser._html.html_problems`; every
answer — pages, their JSON twins, static files, downloads, redirects,
refusals and errors — must carry the security headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from entrepot.jobs import Runner
from entrepot.service.archives import archive_writer
from entrepot.service.building import import_job
from entrepot.service.http import Tokens
from entrepot.spool import Spool
from entrepot.web import DaemonHost, build_dashboard
from tests.browser._html import html_problems
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard

BAD_CSV = (
    "customer_id,name,country\n"
    "C001,Ada,fr\n"
    "C002,,de\n"  # no name
    "C003,Cy,uk\n"  # a country not in the schema's choices
    "C004,Di,nl\n"
)


def seed(dashboard: Dashboard) -> dict[str, str]:
    """Files shipped, events archived, a CSV imported with bad rows; sample path values."""
    config = dashboard.daemon.config
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    outbox = Spool(config.spools["outbox"].path)
    for number in range(3):
        outbox.publish_bytes(f"id\n{number}\n".encode(), f"report-{number}.csv")
    writer = archive_writer(config, "events")
    for number in range(120):  # more than max_records: one archive sealed, handed on
        writer.write({"kind": "demo"}, f'{{"n": {number}}}')
    writer.close()
    assert config.datacenter is not None
    (config.datacenter.root / "customers.csv").write_text(BAD_CSV)
    imported = Runner(ledger).run(import_job(config.datacenter, "customers.csv", "customers"))

    def shipped() -> list[Any]:
        done = [job for job in ledger.jobs() if job.kind == "ship" and job.state == "succeeded"]
        return done if done and not list(outbox.area("new").iterdir()) else []

    wait_until(lambda: bool(shipped()), timeout=60, what="the route's delivery")
    ship_jobs = shipped()
    pending = next(config.datacenter.root.glob("*.pending.csv"))
    sealed = sorted(path.name for path in (dashboard.root / "partner").glob("*.events*"))
    assert sealed, "no sealed archive was delivered"
    return {
        "job_id": ship_jobs[0].id,
        "import_job_id": imported.job_id,
        "route": "outbox-to-partner",
        "target": "partner",
        "archive": "events",
        "archive_file": sealed[0],
        "pending": pending.name,
        "file": "report-0.csv",
    }


#: Query strings that make a page show more than its empty form (or that it needs).
QUERIES = {
    "/trace": "?name=report-*.csv",
    "/trace/receipt": "?route=outbox-to-partner&since=1d",
    "/datacenter/log": "?q=customers",
}


def fill(path: str, samples: dict[str, str]) -> str | None:
    """``path`` with its parameters replaced by sample values; ``None`` when one is unknown."""
    if path.startswith(("/datacenter/imports/", "/api/datacenter/imports/")):
        values = {"job_id": samples["import_job_id"]}
    elif path.startswith(("/datacenter/files/", "/api/datacenter/files/")):
        values = {"area": "pending", "name": samples["pending"]}
    elif "/targets/" in path:
        values = {"name": samples["target"], "target": samples["target"]}
    elif "/routes/" in path:
        values = {"name": samples["route"], "route": samples["route"]}
    elif "/archives/" in path:
        # A sealed archive was handed to the outbox and shipped: it is in the spool's cur/.
        values = {"name": samples["archive"], "area": "cur", "file": samples["archive_file"]}
    else:
        values = {"job_id": samples["job_id"], "file": samples["file"], "name": samples["file"]}
    missing = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name not in values:
            missing.append(name)
            return ""
        return values[name]

    filled = re.sub(r"\{([^}]+)\}", value, path)
    return None if missing else filled + QUERIES.get(path.removeprefix("/api"), "")


def get_paths(dashboard: Dashboard) -> list[str]:
    """Every GET route of the dashboard's page modules (as declared, parameters unfilled)."""
    tokens = Tokens(dashboard.tokens["operator"], dashboard.tokens["viewer"])
    app = build_dashboard(DaemonHost(dashboard.daemon), tokens)
    return [
        route.path
        for route in app.routes
        if isinstance(route, Route) and route.methods and "GET" in route.methods
    ]


@pytest.fixture
def seeded(dashboard: Dashboard) -> Iterator[tuple[Dashboard, dict[str, str]]]:
    yield dashboard, seed(dashboard)


def assert_secured(reply: httpx.Response) -> None:
    headers = reply.headers
    where = f"{reply.request.method} {reply.request.url.path} ({reply.status_code})"
    csp = headers.get("content-security-policy", "")
    assert csp, f"{where}: no Content-Security-Policy"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: {csp}"
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if " " in part.strip())
    assert directives.get("default-src") == "'none'", f"{where}: {csp}"
    assert directives.get("frame-ancestors") == "'none'", f"{where}: {csp}"
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where


def check_page(reply: httpx.Response, path: str) -> list[str]:
    """The problems of one answer: status, headers, and for HTML its markup."""
    assert_secured(reply)
    if reply.status_code != 200:
        return [f"{path}: {reply.status_code} {reply.text[:200]}"]
    kind = reply.headers.get("content-type", "")
    download = reply.headers.get("content-disposition", "").startswith("attachment")
    if path.startswith("/api/") and not download:
        return [] if kind.startswith("application/json") else [f"{path}: {kind}, not JSON"]
    if kind.startswith("text/html"):
        return [f"{path} {problem}" for problem in html_problems(reply.text)]
    return []


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_every_page_is_well_formed_labelled_and_secured(
    seeded: tuple[Dashboard, dict[str, str]], role: str
) -> None:
    dashboard, samples = seeded
    client = dashboard.login(role)  # a browser's session: the pages show their forms
    paths = get_paths(dashboard)
    assert "/config" in paths and "/login" in paths
    unfilled, problems, pages = [], [], 0
    for declared in paths:
        path = fill(declared, samples)
        if path is None:
            unfilled.append(declared)
            continue
        problems += check_page(client.get(path), path)
        pages += 1
    assert not unfilled, f"no sample values for {unfilled}: add them to fill()"
    assert not problems, "\n".join(problems)
    assert pages >= 2


def test_the_login_form_and_error_pages_are_well_formed_and_secured(dashboard: Dashboard) -> None:
    anonymous = dashboard.client(None, follow_redirects=False)
    login = anonymous.get("/login")
    assert login.status_code == 200
    assert html_problems(login.text) == []
    assert_secured(login)
    sent_away = anonymous.get("/config")  # a redirect to the login form
    assert sent_away.status_code == 303
    assert_secured(sent_away)
    refused = anonymous.get("/api/config")
    assert refused.status_code == 401
    assert_secured(refused)
    wrong = anonymous.post("/login", data={"token": "not-the-token", "next": "/"})
    assert wrong.status_code == 401
    assert html_problems(wrong.text) == []
    assert_secured(wrong)
    client = dashboard.login("viewer")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert html_problems(missing.text) == []
    assert_secured(missing)
    forbidden = client.post("/config/reload", data={"csrf": dashboard.csrf(client)})
    assert forbidden.status_code == 403
    assert_secured(forbidden)
    no_csrf = dashboard.login("operator").post("/config/reload")
    assert no_csrf.status_code == 403
    assert_secured(no_csrf)


def test_static_files_are_served_with_the_headers(dashboard: Dashboard) -> None:
    client = dashboard.login("viewer")
    page = client.get("/config").text
    assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page))
    assert assets, "the page links no static file"
    for asset in sorted(assets):
        reply = client.get(asset)
        assert reply.status_code == 200, asset
        assert_secured(reply)
