"""The jobs pages (issue 15): the open jobs and one job, Retry and Drop — operator only, CSRF
from a session, a drop needs its reason — through the real endpoint of a running service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from entrepot.jobs import JobState, Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard, running_dashboard


def _ledger(dashboard: Dashboard) -> Ledger:
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    return ledger


def _dead(dashboard: Dashboard, job_id: str = "job-dead", name: str = "nightly export") -> str:
    _ledger(dashboard).add_job(job_id, "ship", {}, name=name, state=JobState.DEAD)
    return job_id


def test_both_roles_see_the_open_jobs_only_the_operator_gets_the_buttons(
    dashboard: Dashboard,
) -> None:
    _dead(dashboard, name="<script>alert(1)</script>")
    _ledger(dashboard).add_job("job-done", "ship", {}, state=JobState.SUCCEEDED)
    listing = dashboard.client("viewer").get("/api/jobs").json()["open_jobs"]
    assert [job["id"] for job in listing["items"]] == ["job-dead"]
    assert listing["total"] == 1 and listing["page"] == 1 and not listing["has_next"]
    viewer = dashboard.client("viewer").get("/jobs").text
    operator = dashboard.client("operator").get("/jobs").text
    for page in (viewer, operator):
        assert "job-dead" in page and "job-done" not in page
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/jobs/job-dead/retry" not in viewer and ">Drop<" not in viewer
    assert "/jobs/job-dead/retry" in operator and ">Drop<" in operator
    assert '<label for="reason-job-dead">Reason</label>' in operator


def test_a_viewer_cannot_retry_or_drop(dashboard: Dashboard) -> None:
    job_id = _dead(dashboard)
    viewer = dashboard.client("viewer")
    assert viewer.post(f"/api/jobs/{job_id}/retry").status_code == 403
    assert viewer.post(f"/api/jobs/{job_id}/drop", data={"reason": "x"}).status_code == 403
    session = dashboard.login("viewer")
    csrf = dashboard.csrf(session, "/jobs")
    refused = session.post(f"/jobs/{job_id}/drop", data={"csrf": csrf, "reason": "x"})
    assert refused.status_code == 403
    assert _ledger(dashboard).get(job_id).state == JobState.DEAD


def test_a_session_drops_with_its_csrf_token_and_a_reason(dashboard: Dashboard) -> None:
    job_id = _dead(dashboard)
    session = dashboard.login("operator")
    no_token = session.post(f"/jobs/{job_id}/drop", data={"reason": "partner gone"})
    assert no_token.status_code == 403
    assert _ledger(dashboard).get(job_id).state == JobState.DEAD
    csrf = dashboard.csrf(session, "/jobs")
    no_reason = session.post(f"/jobs/{job_id}/drop", data={"csrf": csrf, "reason": "  "})
    assert no_reason.status_code == 400
    assert "Dropping a job needs a reason" in no_reason.text
    assert _ledger(dashboard).get(job_id).state == JobState.DEAD
    done = session.post(
        f"/jobs/{job_id}/drop", data={"csrf": csrf, "reason": "partner gone", "back": "/"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    record = _ledger(dashboard).get(job_id)
    assert record.state == JobState.DROPPED and record.reason == "partner gone"
    page = session.get("/").text
    assert f"Job {job_id} (nightly export) dropped: partner gone" in page  # the notice, once
    assert "dropped: partner gone" not in session.get("/").text


def test_the_api_answers_what_became_of_the_job(dashboard: Dashboard) -> None:
    job_id = _dead(dashboard)
    operator = dashboard.client("operator")
    missing = operator.post(f"/api/jobs/{job_id}/drop", data={})
    assert missing.status_code == 400
    assert missing.json()["error"].startswith("Dropping a job needs a reason")
    dropped = operator.post(f"/api/jobs/{job_id}/drop", data={"reason": "obsolete"})
    assert dropped.status_code == 200
    assert dropped.json()["job"]["state"] == "dropped"
    assert dropped.json()["job"]["reason"] == "obsolete"
    again = operator.post(f"/api/jobs/{job_id}/drop", data={"reason": "twice"})
    assert again.status_code == 409 and "dropped" in again.json()["error"]
    assert operator.post("/api/jobs/nope/retry").status_code == 404
    assert operator.post("/api/jobs/%20/retry").status_code == 404  # a blank id names none
    assert operator.get("/api/jobs/nope").status_code == 404
    assert operator.get("/jobs/nope").status_code == 404


def test_one_job_with_its_runs_and_an_offsite_back_link_ignored(dashboard: Dashboard) -> None:
    job_id = _dead(dashboard)
    ledger = _ledger(dashboard)
    ledger.set_state(job_id, JobState.BACKLOG, from_states=[JobState.DEAD])
    detail = dashboard.client("viewer").get(f"/api/jobs/{job_id}").json()
    assert detail["job"]["id"] == job_id and detail["job"]["params"] == "{}"
    assert detail["runs"]["total"] == 0
    page = dashboard.client("operator").get(f"/jobs/{job_id}").text
    assert "Retry now" in page and 'for="reason"' in page
    session = dashboard.login("operator")
    csrf = dashboard.csrf(session, f"/jobs/{job_id}")
    moved = session.post(
        f"/jobs/{job_id}/drop", data={"csrf": csrf, "reason": "r", "back": "//evil.example/"}
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/"


def test_a_failing_route_shows_on_the_overview_with_its_job(tmp_path: Path) -> None:
    partner = tmp_path / "partner-missing"
    with running_dashboard(tmp_path, partner=partner.as_uri()) as dashboard:
        ledger = _ledger(dashboard)
        (tmp_path / "outbox" / "new" / "report.csv").write_text("a,b\n")
        dashboard.daemon.waker.wake()

        def failing() -> bool:
            shown = dashboard.client("viewer").get("/api/overview").json()
            return bool(shown["routes"][0]["failing"])

        wait_until(failing, timeout=30, what="a failed route run")
        shown = dashboard.client("viewer").get("/api/overview").json()
        (route,) = shown["routes"]
        assert route["waiting_job"] in {job.id for job in ledger.jobs()}
        assert "no such folder" in route["last_error"]["error"]
        assert shown["stuck"]
        page = dashboard.client("viewer").get("/").text
        assert 'id="route-outbox-to-partner" class="failing"' in page
        assert "its last run failed" in page


def test_retry_runs_a_dead_job_once_its_cause_is_gone(dashboard: Dashboard) -> None:
    ledger = _ledger(dashboard)
    outage = dashboard.root / "outage"
    outage.touch()
    once = RetryPolicy(attempts=1, jitter=0)
    result = Runner(ledger, policy=once, reruns=once).run(ScriptedJob(outage=str(outage)))
    assert not result.ok
    job_id = result.job_id
    # Dead: the service never re-runs it on its own, only a Retry does.
    if ledger.get(job_id).state != JobState.DEAD:
        ledger.set_state(job_id, JobState.DEAD, from_states=[JobState.BACKLOG])
    shown = dashboard.client("viewer").get("/api/overview").json()
    assert shown["stuck"] and shown["open_jobs"]["items"][0]["id"] == job_id
    outage.unlink()
    retried = dashboard.client("operator").post(f"/api/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["message"].startswith(f"Job {job_id} ")
    wait_until(lambda: ledger.get(job_id).state == JobState.SUCCEEDED, timeout=30, what="the retry")
    after = dashboard.client("viewer").get("/api/overview").json()
    assert after["open_jobs"]["total"] == 0 and not after["stuck"]
    assert after["recent_runs"]["items"][0]["job_id"] == job_id


@pytest.mark.parametrize("path", ["/api/jobs", "/jobs"])
def test_a_page_number_beyond_the_end_is_an_empty_page(dashboard: Dashboard, path: str) -> None:
    reply = dashboard.client("viewer").get(path, params={"page": "999"})
    assert reply.status_code == 200
    if path.startswith("/api"):
        assert reply.json()["open_jobs"]["items"] == []
    # Digits int() refuses (a superscript, five thousand of them) are the first page.
    for odd in ("\u00b2", "9" * 5000, "-1", "1e3", " 2"):
        reply = dashboard.client("viewer").get(path, params={"page": odd})
        assert reply.status_code == 200, odd
        if path.startswith("/api"):
            assert reply.json()["open_jobs"]["page"] == 1, odd


def test_no_token_no_jobs(dashboard: Dashboard) -> None:
    anonymous = httpx.get(dashboard.url + "/api/jobs", timeout=10)
    assert anonymous.status_code == 401
