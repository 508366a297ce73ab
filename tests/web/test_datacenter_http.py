"""The data center pages through the service's real endpoint, with both roles."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrepot.jobs import JobState, Runner
from entrepot.provenance.events import Kind
from entrepot.provenance.reader import find
from entrepot.service.building import import_job
from entrepot.web.host import DaemonHost
from tests.web.conftest import Dashboard, running_dashboard

#: Two good rows, two bad (a bad key, a country not in the choices).
CUSTOMERS = "customer_id,name,country\nC001,Ann,fr\nX9,Bad,de\nC002,Bo,xx\nC003,Cy,nl\n"
ACTIONS = ("upload", "import", "export", "retire")


def upload(client: httpx.Client, name: str, content: str | bytes, **kwargs: Any) -> httpx.Response:
    return client.post(
        "/api/datacenter/upload", files={"file": (name, content, "text/csv")}, **kwargs
    )


def start_import(client: httpx.Client, name: str) -> httpx.Response:
    form = {"file": name, "table": "customers", "mode": "create"}
    return client.post("/api/datacenter/import", data=form)


def wait_done(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress: dict[str, Any] = client.get(f"/api/datacenter/imports/{job_id}").json()
        if progress["done"]:
            return progress
        time.sleep(0.1)
    raise AssertionError(f"the import {job_id} did not end: {progress}")


def test_both_roles_see_the_files_with_sizes_dates_and_lines(dashboard: Dashboard) -> None:
    (dashboard.root / "dc" / "customers.csv").write_text(CUSTOMERS)
    for role in ("viewer", "operator"):
        data = dashboard.client(role).get("/api/datacenter").json()
        (row,) = data["files"]
        assert (row["name"], row["size"], row["lines"]) == ("customers.csv", len(CUSTOMERS), 5)
        assert data["paging"] == {"page": 1, "pages": 1, "total": 1, "previous": None, "next": None}
        assert data["tables"] == ["customers"]
        page = dashboard.client(role).get("/datacenter")
        assert page.status_code == 200 and "customers.csv" in page.text
    finished = dashboard.client("viewer").get("/api/datacenter?area=finished").json()
    assert finished["files"] == []
    assert dashboard.client("viewer").get("/datacenter?area=../etc").status_code == 404


def test_a_viewer_sees_no_action_and_every_action_is_refused(dashboard: Dashboard) -> None:
    (dashboard.root / "dc" / "customers.csv").write_text(CUSTOMERS)
    viewer = dashboard.client("viewer")
    for path in ("/datacenter", "/datacenter/tables"):
        page = viewer.get(path).text
        assert 'method="post" action="/datacenter' not in page
    operator_page = dashboard.client("operator").get("/datacenter").text
    assert 'action="/datacenter/upload"' in operator_page
    assert 'action="/datacenter/import"' in operator_page
    tables = dashboard.client("operator").get("/datacenter/tables").text
    assert 'action="/datacenter/export"' in tables and 'action="/datacenter/retire"' in tables
    for name in ACTIONS:
        for prefix in ("", "/api"):
            reply = viewer.post(f"{prefix}/datacenter/{name}", data={"table": "customers"})
            assert reply.status_code == 403, (prefix, name)
    assert upload(viewer, "x.csv", CUSTOMERS).status_code == 403
    session = dashboard.login("viewer")
    token = dashboard.csrf(session, "/datacenter/log")
    reply = session.post(
        "/datacenter/retire", data={"csrf": token, "table": "customers", "where": "name=Ann"}
    )
    assert reply.status_code == 403
    assert sorted(p.name for p in (dashboard.root / "dc").iterdir() if p.is_file()) == [
        "customers.csv",
        "schema.toml",
    ]


def test_a_session_post_without_the_csrf_token_is_refused(dashboard: Dashboard) -> None:
    session = dashboard.login("operator")
    reply = session.post("/datacenter/upload", files={"file": ("a.csv", "a\n1\n", "text/csv")})
    assert reply.status_code == 403
    token = dashboard.csrf(session, "/datacenter")
    # The token must come first: a file part before it is not read.
    late = session.post(
        "/datacenter/upload", data={"csrf": token}, files={"file": ("a.csv", "a\n1\n", "text/csv")}
    )
    assert late.status_code == 303
    assert (dashboard.root / "dc" / "a_web.csv").read_text() == "a\n1\n"
    reply = session.post("/datacenter/retire", data={"table": "customers", "where": "name=x"})
    assert reply.status_code == 403
    assert not any(dashboard.root.glob("dc/graduated/*"))


def test_upload_import_progress_and_the_pending_file(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    stored = upload(operator, "new customers.csv", CUSTOMERS)
    assert stored.status_code == 201, stored.text
    name = stored.json()["stored"]
    assert name == "new_customers_web.csv"
    started = start_import(operator, name)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    progress = wait_done(operator, job_id)
    assert (progress["state"], progress["rows_ok"], progress["rows_failed"]) == ("finished", 2, 2)
    assert progress["pending_file"] == "new_customers_web.create.pending.csv"
    # It ran in the service's backlog lane, not in the request, as a job due
    # now: never a backlog job, which pages would show as a failed import.
    (run,) = dashboard.daemon.ledger.runs(job_id)  # type: ignore[union-attr]
    assert run.trigger == "due"
    viewer = dashboard.client("viewer")
    pending = viewer.get(f"/datacenter/files/pending/{progress['pending_file']}")
    assert pending.status_code == 200
    assert pending.headers["content-type"].startswith("text/csv")
    assert "attachment" in pending.headers["content-disposition"]
    assert pending.text.splitlines() == [
        "customer_id,name,country,--ERRORS--",
        "X9,Bad,de,customer_id: does not match C[0-9]{3}: 'X9'",
        "C002,Bo,xx,\"country: not one of fr, de, nl: 'xx'\"",
    ]
    page = viewer.get(f"/datacenter/imports/{job_id}")
    assert page.status_code == 200 and 'http-equiv="refresh"' not in page.text
    assert "new_customers_web.create.pending.csv" in page.text
    unfinished = viewer.get("/api/datacenter?area=unfinished").json()["files"]
    assert [f["name"] for f in unfinished] == [name]
    log = viewer.get("/api/datacenter/log", params={"q": name}).json()
    (line,) = log["lines"]
    assert line["fields"]["failed"] == "2" and line["fields"]["job"] == job_id
    recent = viewer.get("/api/datacenter").json()["recent"]
    assert recent[0]["job_id"] == job_id
    # The file's trace starts with its upload, with the checksum of what was stored.
    engine = dashboard.daemon.ledger.engine  # type: ignore[union-attr]
    kinds = [(e.kind, e.checksum) for e in find(engine, name)]
    assert kinds[0] == (Kind.UPLOADED, stored.json()["checksum"])
    assert Kind.IMPORTED in [kind for kind, _ in kinds]


def test_a_started_import_is_due_now_not_a_backlog_job(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = dashboard.client("operator")
    name = upload(operator, "c.csv", CUSTOMERS).json()["stored"]
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    # The lanes told to run it are only noted, so what the page left is what is read.
    kicks: list[tuple[str, str]] = []
    monkeypatch.setattr(dashboard.daemon.wiring, "kick", lambda *lane: kicks.append(lane))
    job_id = start_import(operator, name).json()["job_id"]
    # A backlog job is a failed one on the jobs page and the overview.
    assert ledger.get(job_id).state == JobState.PENDING
    assert kicks == [("backlog", "due")]
    monkeypatch.undo()
    DaemonHost(dashboard.daemon).run_now(job_id)
    assert wait_done(operator, job_id)["state"] == "finished"


def test_an_import_page_refreshes_itself_until_it_ends(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    name = upload(operator, "c.csv", CUSTOMERS).json()["stored"]
    ledger, section = dashboard.daemon.ledger, dashboard.daemon.config.datacenter
    assert ledger is not None and section is not None
    # Recorded for later: it stays queued while the page is read.
    later = datetime.now(UTC) + timedelta(hours=1)
    job_id = Runner(ledger).submit(import_job(section, name, "customers"), due=later).id
    page = operator.get(f"/datacenter/imports/{job_id}").text
    assert "queued" in page
    assert '<meta http-equiv="refresh" content="2">' in page and "<script" not in page
    assert operator.get(f"/api/datacenter/imports/{job_id}").json()["done"] is False
    DaemonHost(dashboard.daemon).retry(job_id)
    assert wait_done(operator, job_id)["state"] == "finished"
    assert 'http-equiv="refresh"' not in operator.get(f"/datacenter/imports/{job_id}").text


@pytest.mark.parametrize(
    ("file", "table", "mode", "says"),
    [
        ("gone.csv", "customers", "create", "no file"),
        ("../schema.toml", "customers", "create", "path separator"),
        ("c.csv", "nobody", "create", "no table"),
        ("c.csv", "customers", "upsert", "unknown mode"),
    ],
)
def test_an_import_of_what_is_not_there_is_refused_at_once(
    dashboard: Dashboard, file: str, table: str, mode: str, says: str
) -> None:
    (dashboard.root / "dc" / "c.csv").write_text(CUSTOMERS)
    reply = dashboard.client("operator").post(
        "/api/datacenter/import", data={"file": file, "table": table, "mode": mode}
    )
    assert reply.status_code == 400 and says in reply.json()["error"]


def test_a_refused_upload_says_why_and_keeps_nothing(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    root = dashboard.root / "dc"
    for name, content, says in [
        ("../x.csv", "a\n", "path separator"),
        ("notes.txt", "a\n", "not a CSV file"),
        ("latin.csv", "name\nJosé\n".encode("latin-1"), "is not valid utf-8-sig text"),
        ("empty.csv", "", "is empty"),
    ]:
        reply = upload(operator, name, content)
        assert reply.status_code == 400 and says in reply.json()["error"], (name, reply.text)
    session = dashboard.login("operator")
    token = dashboard.csrf(session, "/datacenter")
    reply = session.post(
        "/datacenter/upload",
        data={"csrf": token},
        files={"file": ("notes.txt", "a\n", "text/plain")},
    )
    assert reply.status_code == 303
    page = session.get("/datacenter").text
    assert "Upload refused" in page and "not a CSV file" in page
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["schema.toml"]
    assert list((root / ".state" / "web-uploads").iterdir()) == []


def test_an_upload_over_the_limit_is_refused_as_it_streams(tmp_path: Path) -> None:
    # The limit is the configuration's: [datacenter] max_upload.
    with running_dashboard(tmp_path, extra='max_upload = "64 KiB"') as dashboard:
        _refused_over_the_limit(dashboard)


def _refused_over_the_limit(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")

    def body() -> Any:  # sent chunked, no length announced; small enough for the socket's buffer
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        for _ in range(8):
            yield b"a,b\n" * 4096
        yield b"\r\n--b--\r\n"

    reply = operator.post(
        "/api/datacenter/upload",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert reply.status_code == 413
    assert "larger than the limit of 64.00 kb" in reply.json()["error"]
    # A length announced over the limit is refused before a byte of the body is read.
    host, port = httpx.URL(dashboard.url).host, httpx.URL(dashboard.url).port
    with socket.create_connection((host, port), timeout=30) as raw:
        raw.sendall(
            b"POST /api/datacenter/upload HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {dashboard.tokens['operator']}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=b\r\n"
            + b"Content-Length: 1000000000\r\n\r\n--b\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413 ")
    root = dashboard.root / "dc"
    assert not any(p.name.startswith("big") for p in root.iterdir())
    assert list((root / ".state" / "web-uploads").iterdir()) == []


def test_names_shown_are_escaped(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    stored = upload(operator, "<img src=x onerror=alert(1)>.csv", CUSTOMERS).json()["stored"]
    assert stored == "<img_src=x_onerror=alert(1)>_web.csv"
    page = dashboard.client("viewer").get("/datacenter").text
    assert "<img" not in page and "&lt;img_src=x_onerror=alert(1)&gt;_web.csv" in page


def test_export_downloads_and_retire_through_the_forms(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    name = upload(operator, "c.csv", CUSTOMERS).json()["stored"]
    wait_done(operator, start_import(operator, name).json()["job_id"])
    exported = operator.post(
        "/api/datacenter/export", data={"table": "customers", "where": "country=fr"}
    )
    assert exported.status_code == 201 and exported.json()["rows"] == 1
    csv = operator.get(exported.json()["download"])
    assert csv.text.splitlines() == ["customer_id,name,country", "C001,Ann,fr"]
    session = dashboard.login("operator")
    token = dashboard.csrf(session, "/datacenter/tables")
    reply = session.post("/datacenter/export", data={"csrf": token, "table": "customers"})
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/datacenter/files/exports/customers.export.")
    assert session.get(reply.headers["location"]).text.count("\n") == 3
    form = {"csrf": token, "table": "customers", "where": "country=nl", "dry_run": "1"}
    dry = session.post("/datacenter/retire", data=form)
    assert dry.status_code == 303
    assert (
        "1 rows of customers match; nothing was retired" in session.get("/datacenter/tables").text
    )
    retired = operator.post(
        "/api/datacenter/retire", data={"table": "customers", "where": "country=nl"}
    )
    assert retired.json() == {
        "table": "customers",
        "rows": 1,
        "dry_run": False,
        "backup": "customers.csv",
    }
    graduated = dashboard.client("viewer").get("/datacenter/files/graduated/customers.csv").text
    assert graduated.splitlines()[0] == "customer_id,name,country,del_date"
    assert graduated.splitlines()[1].startswith("C003,Cy,nl,")
    bad = operator.post("/api/datacenter/retire", data={"table": "customers", "where": "nope~("})
    assert bad.status_code == 400
    unfiltered = operator.post("/api/datacenter/retire", data={"table": "customers", "where": ""})
    assert unfiltered.status_code == 400 and "at least one filter" in unfiltered.json()["error"]


HOSTILE_PATHS = [
    "/datacenter/files/pending/..%2Fschema.toml",
    "/datacenter/files/pending/%2E%2E",
    "/datacenter/files/pending/%2Fetc%2Fpasswd",
    "/datacenter/files/pending/..%2F..%2F..%2Fetc%2Fpasswd",
    "/datacenter/files/pending/x.csv%00.toml",
    "/datacenter/files/pending/.state",
    "/datacenter/files/%2E%2E/schema.toml",
    "/datacenter/files/logs/..%2Fschema.toml",
    "/datacenter/files/pending/planted.csv",
    "/datacenter/files/finished/up.csv",
    "/api/datacenter/files/pending/planted.csv",
    "/datacenter/files/pending/%252E%252E%252Fschema.toml",
]


def test_downloads_refuse_hostile_names_and_planted_links(dashboard: Dashboard) -> None:
    root = dashboard.root / "dc"
    secret = dashboard.root / "secret.csv"
    secret.write_text("top,secret\n")
    (root / "planted.csv").symlink_to(secret)
    (root / "finished" / "up.csv").symlink_to("../../secret.csv")
    viewer = dashboard.client("viewer")
    for path in HOSTILE_PATHS:
        reply = viewer.send(viewer.build_request("GET", httpx.URL(dashboard.url + path)))
        assert reply.status_code in (400, 403, 404), (path, reply.status_code)
        assert "secret" not in reply.text and "[tables" not in reply.text, path
    assert re.search(r"planted\.csv", viewer.get("/datacenter").text) is None


def test_long_listings_have_pages(dashboard: Dashboard) -> None:
    for number in range(53):
        (dashboard.root / "dc" / "finished" / f"f{number:02}.csv").write_text("a\n")
    viewer = dashboard.client("viewer")
    page = viewer.get("/datacenter", params={"area": "finished"}).text
    assert "f49.csv" in page and "f50.csv" not in page
    assert 'href="/datacenter?area=finished&amp;sort=name&amp;page=2"' in page
    second = viewer.get("/api/datacenter", params={"area": "finished", "page": "2"}).json()
    assert [f["name"] for f in second["files"]] == ["f50.csv", "f51.csv", "f52.csv"]
    assert second["paging"]["previous"] == 1
    odd = viewer.get("/api/datacenter", params={"area": "finished", "page": "\u00b2"})
    assert odd.status_code == 200 and odd.json()["paging"]["page"] == 1


def test_the_mode_chosen_is_the_mode_imported(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    wait_done(
        operator,
        start_import(operator, upload(operator, "c.csv", CUSTOMERS).json()["stored"]).json()[
            "job_id"
        ],
    )
    for mode, content in [
        ("update", "customer_id,name\nC001,Anne\n"),
        ("remove", "customer_id\nC003\n"),
    ]:
        name = upload(operator, f"{mode}.csv", content).json()["stored"]
        form = {"file": name, "table": "customers", "mode": mode, "empty": "keep"}
        job_id = operator.post("/api/datacenter/import", data=form).json()["job_id"]
        progress = wait_done(operator, job_id)
        assert (progress["mode"], progress["rows_ok"], progress["rows_failed"]) == (mode, 1, 0)
    exported = operator.post("/api/datacenter/export", data={"table": "customers"}).json()
    rows = operator.get(exported["download"]).text.splitlines()
    assert rows == ["customer_id,name,country", "C001,Anne,fr"]
    deleted = operator.get("/datacenter/files/deleted/customers.csv").text.splitlines()
    assert deleted[1].startswith("C003,Cy,nl,")
