"""In a real browser, what an operator does with the dashboard of ``entrepot serve``.

Log in with the token form and see the overview; upload a CSV with bad rows
on the data center page, import it, see the failed count and download the
pending rows; stop the FTP server so the route fails, see it on the
overview, start the server again and press Retry until the backlog is
empty; trace a delivered file; reload the configuration.  Pages are found
by their roles and labels, as a person (or a screen reader) finds them;
each step's page is saved under the test's temporary folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._served import Served, log_in, served_dashboard, shown_after_reloads
from tests.browser.conftest import Screenshots
from tests.servers._common import wait_until

pytestmark = pytest.mark.server

BAD_CSV = (
    "customer_id,name,country\n"
    "C001,Ada,fr\n"
    "C002,,de\n"  # no name
    "C003,Cy,uk\n"  # a country the schema does not allow
    "C004,Di,nl\n"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_dashboard(tmp_path / "service") as running:
        yield running


def publish(served: Served, name: str, text: str) -> None:
    """A producer's file, published into the spool's ``new/`` (written aside, then renamed)."""
    aside = served.outbox / "tmp" / name
    aside.write_text(text)
    aside.rename(served.outbox / "new" / name)


def test_log_in_and_see_the_overview(served: Served, page: Any, shots: Screenshots) -> None:
    publish(served, "hello.csv", "a,b\n1,2\n")
    wait_until(lambda: (served.remote / "hello.csv").exists(), timeout=60, what="delivery")
    page.goto(served.url + "/")
    assert page.url.startswith(served.url + "/login")
    shots(page, "login")
    log_in(page, served.url, served.tokens["operator"])
    page.get_by_role("heading", name="Overview").wait_for()
    main = page.get_by_role("main")
    # The route's row says its last run succeeded; the spool's says nothing waits.
    route = main.get_by_role("row", name=re.compile(r"^outbox-to-partner outbox →"))
    shown_after_reloads(page, lambda: "succeeded" in route.inner_text())
    spool = main.get_by_role("row", name=re.compile(r"^outbox \S+outbox "))
    assert spool.get_by_role("cell").nth(1).inner_text().strip() == "0"
    assert "Nothing is stuck" in main.inner_text()
    # Both charts are drawn by the server, as SVG.
    assert page.locator("svg").count() >= 1
    shots(page, "overview")
    nav = page.get_by_role("navigation", name="Pages")
    for label in ("Overview", "Jobs", "Routes", "Trace", "Data center", "Archives", "Config"):
        assert nav.get_by_role("link", name=label).count() == 1, label


def test_upload_a_csv_import_it_and_download_the_pending_rows(
    served: Served, page: Any, shots: Screenshots, tmp_path: Path
) -> None:
    upload = tmp_path / "customers.csv"
    upload.write_text(BAD_CSV)
    log_in(page, served.url, served.tokens["operator"])
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Data center").click()
    page.get_by_role("heading", name="Data center").wait_for()
    page.get_by_label("CSV file", exact=True).set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    notice = page.get_by_role("status").filter(has_text="customers")
    notice.wait_for()
    shots(page, "datacenter-uploaded")
    stored = re.search(r" as (\S+):", notice.inner_text())
    assert stored, notice.inner_text()
    page.get_by_label("File", exact=True).select_option(stored.group(1))
    page.get_by_label("Table").select_option("customers")
    page.get_by_label("Mode").select_option("create")
    page.get_by_role("button", name="Import").click()
    # The import's own page refreshes itself until the import ends.
    page.wait_for_url(re.compile(r".*/datacenter/imports/.+"))
    failed = page.locator("dt", has_text="Rows failed").locator("xpath=following-sibling::dd[1]")
    shown_after_reloads(page, lambda: failed.inner_text().strip() == "2")
    imported = page.locator("dt", has_text="Rows imported")
    imported = imported.locator("xpath=following-sibling::dd[1]")
    assert imported.inner_text().strip() == "2"
    shots(page, "import-done")
    with page.expect_download() as waiting:
        page.get_by_role("link", name=re.compile(r"pending\.csv")).first.click()
    download = waiting.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    pending = saved.read_text()
    assert "C002" in pending and "C003" in pending
    assert "C001" not in pending and "C004" not in pending
    assert download.suggested_filename.endswith(".pending.csv")


def test_a_failed_route_is_seen_and_retried(served: Served, page: Any, shots: Screenshots) -> None:
    served.ftp.stop()
    publish(served, "late.csv", "a,b\n3,4\n")
    log_in(page, served.url, served.tokens["operator"])
    retry = page.get_by_role("button", name=re.compile("Retry"))
    shown_after_reloads(page, lambda: retry.count() > 0)
    main = page.get_by_role("main")
    assert "failed" in main.inner_text()
    shots(page, "overview-failing")
    served.ftp.start()
    retry.first.click()
    page.get_by_role("heading", name="Overview").wait_for()
    shown_after_reloads(page, lambda: retry.count() == 0)
    shots(page, "overview-retried")
    assert (served.remote / "late.csv").read_text() == "a,b\n3,4\n"
    counts = served.api("/api/overview")["jobs_by_state"]
    assert counts.get("backlog", 0) == 0 and counts.get("dead", 0) == 0


def test_trace_a_delivered_file(served: Served, page: Any, shots: Screenshots) -> None:
    publish(served, "traced-report.csv", "x\n1\n")
    wait_until(lambda: (served.remote / "traced-report.csv").exists(), timeout=60,
               what="delivery")  # fmt: skip
    log_in(page, served.url, served.tokens["viewer"])
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Trace").click()
    page.get_by_role("heading", name="Trace").wait_for()
    page.get_by_label("File name or pattern").fill("traced-report.csv")
    page.get_by_role("button", name="Trace", exact=True).click()
    main = page.get_by_role("main")
    shown_after_reloads(page, lambda: "delivered" in main.inner_text())
    assert "traced-report.csv" in main.inner_text()
    assert "outbox-to-partner" in main.inner_text() or "partner" in main.inner_text()
    shots(page, "trace")


def test_reload_the_configuration(served: Served, page: Any, shots: Screenshots) -> None:
    log_in(page, served.url, served.tokens["operator"])
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Config").click()
    page.get_by_role("heading", name="Configuration").wait_for()
    text = served.config_path.read_text()
    served.config_path.write_text(text + '\n[spools.returns]\npath = "returns"\n')
    page.get_by_role("button", name="Reload the configuration file").click()
    notice = page.get_by_role("status").filter(has_text="reloaded")
    notice.wait_for()
    assert "generation 2" in notice.inner_text()
    assert "[spools]" in page.get_by_role("main").inner_text() or "returns" in page.content()
    shots(page, "config-reloaded")
    # A broken file is refused and the running configuration stays.
    served.config_path.write_text(text.replace("on_arrival = true", "on_arival = true"))
    page.get_by_role("button", name="Reload the configuration file").click()
    refused = page.get_by_role("status").filter(has_text="refused")
    refused.wait_for()
    assert "on_arival" in refused.inner_text()
    assert "generation 2 kept" in refused.inner_text()
    shots(page, "config-refused")
    assert served.api("/api/config")["generation"] == 2
