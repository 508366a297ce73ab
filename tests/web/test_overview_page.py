"""The overview page (issue 15): is anything stuck? — through the real endpoint of a running
service: spools red past their threshold, routes, open jobs with buttons for the operator only,
runs paged, the charts as SVG and as numbers."""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from entrepot.jobs import JobState, Ledger
from entrepot.jobs.depth import depth_history, hour_of
from entrepot.jobs.states import Outcome
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard, running_dashboard

QUIET = """
[spools.quiet]
path = "quiet"
stale_after = "5s"
"""


def _ledger(dashboard: Dashboard) -> Ledger:
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    return ledger


def test_the_home_page_is_the_overview_with_its_json_twin(dashboard: Dashboard) -> None:
    viewer = dashboard.client("viewer")
    page = viewer.get("/")
    assert page.status_code == 200
    assert "<h1>Overview</h1>" in page.text and "Nothing is stuck" in page.text
    data = viewer.get("/api/overview").json()
    assert data["stuck"] is False
    assert [s["name"] for s in data["spools"]] == ["outbox"]
    assert [r["name"] for r in data["routes"]] == ["outbox-to-partner"]
    assert set(data["charts"]) == {"24h", "7d"}
    assert len(data["charts"]["24h"]["hours"]) == 24 and len(data["charts"]["7d"]["hours"]) == 168


def test_a_delivery_shows_in_the_runs_and_the_charts(dashboard: Dashboard) -> None:
    (dashboard.root / "outbox" / "new" / "a.csv").write_bytes(b"x" * 1000)
    dashboard.daemon.waker.wake()
    viewer = dashboard.client("viewer")

    def delivered() -> bool:
        data = viewer.get("/api/overview").json()
        runs = data["recent_runs"]["items"]
        # The events are written before the run's end: wait for both.
        finished = bool(runs) and runs[0]["outcome"] == "succeeded"
        return finished and bool(data["charts"]["24h"]["files_delivered"][-1])

    wait_until(delivered, timeout=30, what="the delivery in the charts")
    data = viewer.get("/api/overview").json()
    assert data["charts"]["24h"]["bytes_delivered"][-1] >= 1000
    assert data["charts"]["7d"]["files_delivered"][-1] >= 1
    (run, *_) = data["recent_runs"]["items"]
    assert run["outcome"] == "succeeded" and run["items"] >= 1
    assert data["routes"][0]["last_success"] is not None
    page = viewer.get("/").text
    figures = re.findall(r'<figure class="chart".*?</figure>', page, re.S)
    assert len(figures) == 6
    for figure in figures:
        root = ET.fromstring(figure)  # well-formed, once the page is
        assert root.find("figcaption") is not None
    assert "Files delivered per hour, the last 24 hours: 1 in all" in page


def test_a_spool_waiting_too_long_turns_the_page_red(tmp_path: Path) -> None:
    with running_dashboard(tmp_path, extra=QUIET) as dashboard:
        waiting = tmp_path / "quiet" / "new" / "old.bin"
        waiting.parent.mkdir(parents=True, exist_ok=True)
        waiting.write_bytes(b"123")
        then = time.time() - 60
        os.utime(waiting, (then, then))
        data = dashboard.client("viewer").get("/api/overview").json()
        quiet = next(s for s in data["spools"] if s["name"] == "quiet")
        assert quiet["stale"] and quiet["waiting_files"] == 1 and quiet["stale_after_seconds"] == 5
        assert data["stuck"]
        page = dashboard.client("viewer").get("/").text
        assert 'id="spool-quiet" class="stale"' in page
        assert "Something needs attention" in page
        assert 'id="spool-outbox" class="stale"' not in page


def test_open_jobs_have_buttons_for_the_operator_only(dashboard: Dashboard) -> None:
    _ledger(dashboard).add_job("j-dead", "ship", {}, name="<img src=x>", state=JobState.DEAD)
    viewer = dashboard.client("viewer").get("/").text
    operator = dashboard.client("operator").get("/").text
    assert "j-dead" in viewer and "j-dead" in operator
    assert "1 dead job(s)" in viewer
    assert "<img src=x>" not in viewer and "&lt;img src=x&gt;" in viewer
    assert "/jobs/j-dead/retry" not in viewer and "/jobs/j-dead/drop" not in viewer
    assert 'action="/jobs/j-dead/retry"' in operator and 'action="/jobs/j-dead/drop"' in operator
    assert '<input type="hidden" name="back" value="/">' in operator


def test_recent_runs_are_paged_and_their_errors_masked(dashboard: Dashboard) -> None:
    ledger = _ledger(dashboard)
    for number in range(51):
        job_id = f"j{number:02}"
        ledger.add_job(job_id, "ship", {}, name=f"job {number}")
        run = ledger.start_run(job_id, claim_from=[JobState.PENDING])
        assert run is not None
        ledger.finish_run(run, outcome=Outcome.FAILED, attempts=1, items=0, bytes=0, history=[],
                          error=f"no entry at ftp://u:hunter2@h/{number}",
                          job_state=JobState.DROPPED)  # fmt: skip
    viewer = dashboard.client("viewer")
    first = viewer.get("/api/overview").json()["recent_runs"]
    assert first["page"] == 1 and first["has_next"] and len(first["items"]) == 50
    assert first["items"][0]["name"] == "job 50"
    second = viewer.get("/api/overview", params={"page": 2}).json()["recent_runs"]
    assert [run["name"] for run in second["items"]] == ["job 0"] and not second["has_next"]
    page = viewer.get("/", params={"page": 2}).text
    assert "job 0" in page and 'rel="prev"' in page
    assert "hunter2" not in viewer.get("/").text + str(first)


def test_the_service_samples_the_backlog_depth_for_the_charts(dashboard: Dashboard) -> None:
    ledger = _ledger(dashboard)
    # The timer fires at the start, then every few minutes: this hour (or the last) has a row.
    now = hour_of(datetime.now(UTC))
    wait_until(lambda: bool(depth_history(ledger.rows, now - 1)), timeout=30, what="a sample")
