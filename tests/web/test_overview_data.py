"""What the overview reads (issue 15): spools against their threshold, routes as `entrepot status`
sees them, open jobs and runs paged, the charts' hours — on a real SQLite ledger."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from entrepot.db import write_transaction
from entrepot.jobs import FakeClock, JobState, Ledger
from entrepot.jobs.depth import hour_of, record_depth
from entrepot.jobs.states import Outcome
from entrepot.provenance.events import Kind
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import event_row
from entrepot.provenance.schema import ensure_tables
from entrepot.service.config import Config
from entrepot.service.loading import load_config
from entrepot.service.status import route_identity
from entrepot.spool import Spool
from entrepot.web.jobs_data import job_detail, open_jobs, recent_runs
from entrepot.web.overview_data import as_json, chart_series, overview, routes, spools
from entrepot.web.render import Paging

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
SIZE = 20


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "partner").mkdir()
    file = tmp_path / "entrepot.toml"
    file.write_text(
        f"""
[service]
state = "state"

[targets.partner]
url = "file://{tmp_path / "partner"}"

[spools.quick]
path = "spools/quick"
stale_after = "10m"

[spools.slow]
path = "spools/slow"

[routes.out]
spool = "quick"
target = "partner"
every = "1m"
"""
    )
    loaded = load_config(file)
    for spool in loaded.spools.values():
        Spool(spool.path).prepare()
    return loaded


@pytest.fixture
def ledger(config: Config) -> Ledger:
    book = Ledger.open(config.service.state, clock=FakeClock(NOW))
    ensure_tables(book.engine)
    return book


def _age(spool: Path, name: str, seconds: float) -> None:
    folder = Spool(spool)
    path = folder.path("new", folder.publish_bytes(b"data", name))
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_spool_turns_red_past_its_own_threshold(config: Config) -> None:
    _age(config.spools["quick"].path, "a", 11 * 60)
    _age(config.spools["slow"].path, "b", 11 * 60)
    shown = {s["name"]: s for s in spools(config, datetime.now(UTC))}
    assert shown["quick"]["stale"] and shown["quick"]["waiting_files"] == 1
    assert shown["quick"]["stale_after_seconds"] == 600
    assert shown["quick"]["oldest_age"] in ("11m", "11m1s", "11m2s")
    assert not shown["slow"]["stale"]  # one hour by default
    assert shown["slow"]["stale_after_seconds"] == 3600


def _failed_run(ledger: Ledger, job_id: str, identity: str | None, error: str) -> None:
    ledger.add_job(job_id, "ship", {}, name=f"ship {job_id}", identity=identity)
    run = ledger.start_run(job_id, claim_from=[JobState.PENDING])
    assert run is not None
    ledger.finish_run(run, outcome=Outcome.FAILED, attempts=3, items=0, bytes=0, history=[],
                      step="send", code=5, error=error, job_state=JobState.BACKLOG,
                      next_due=NOW + timedelta(minutes=5))  # fmt: skip


def test_a_route_whose_last_run_failed_is_failing_and_its_error_masked(
    config: Config, ledger: Ledger
) -> None:
    identity = route_identity(config, "ship", "out")
    _failed_run(ledger, "j1", identity, "cannot log in to ftp://bob:hunter2@partner/in")
    (route,) = routes(config, ledger.rows, None)
    assert route["name"] == "out" and route["failing"]
    assert route["waiting_job"] == "j1"
    assert "hunter2" not in route["last_error"]["error"]
    assert route["next_due"] == (NOW + timedelta(minutes=5)).isoformat(timespec="seconds")


def test_open_jobs_dead_first_then_by_due_time_in_pages(ledger: Ledger) -> None:
    for number in range(SIZE + 5):
        due = NOW + timedelta(minutes=SIZE + 5 - number)
        ledger.add_job(f"b{number:03}", "ship", {}, state=JobState.BACKLOG, next_due=due)
    ledger.add_job("dead1", "ship", {}, state=JobState.DEAD)
    ledger.add_job("done", "ship", {}, state=JobState.SUCCEEDED)
    first = open_jobs(ledger.rows, Paging(1, SIZE))
    assert first.total == SIZE + 6 and first.has_next
    ids = [job["id"] for job in first.items]
    assert ids[:3] == ["dead1", f"b{SIZE + 4:03}", f"b{SIZE + 3:03}"]
    second = open_jobs(ledger.rows, Paging(2, SIZE))
    assert not second.has_next
    assert [job["id"] for job in second.items] == [f"b{n:03}" for n in range(5, -1, -1)]
    assert second.as_json()["page"] == 2


def test_runs_and_one_job_with_secrets_masked(ledger: Ledger) -> None:
    _failed_run(ledger, "j1", None, "refused by sftp://eve:pa55word@host/")
    _failed_run(ledger, "j2", None, "boom")
    runs = recent_runs(ledger.rows, Paging(1))
    assert [run["job_id"] for run in runs.items] == ["j2", "j1"]
    assert runs.items[1]["name"] == "ship j1" and runs.items[1]["kind"] == "ship"
    assert "pa55word" not in (runs.items[1]["error"] or "")
    found = job_detail(ledger.rows, "j1", Paging(1))
    assert found is not None
    job, job_runs = found
    assert job["state"] == "backlog" and "pa55word" not in (job["last_error"] or "")
    assert job["params"] == "{}"
    assert job_runs.total == 1 and job_runs.items[0]["code"] == 5
    assert job_detail(ledger.rows, "nope", Paging(1)) is None


def test_chart_hours_come_from_the_hourly_counts_and_the_depth_samples(ledger: Ledger) -> None:
    now_hour = hour_of(NOW)
    rows = [event_row(Kind.DELIVERED, "/s", "f", size=10, at=(now_hour - 2) * 3600 + 5)] * 3
    rows += [event_row(Kind.DELIVERED, "/s", "g", size=1, at=now_hour * 3600 + 1)]
    rows += [event_row(Kind.RECEIVED, "/s", "h", size=99, at=now_hour * 3600 + 1)]
    rows += [event_row(Kind.DELIVERED, "/s", "old", size=1, at=(now_hour - 30) * 3600)]
    with write_transaction(ledger.engine) as conn:
        insert_rows(conn, rows)
    ledger.add_job("b", "ship", {}, state=JobState.BACKLOG)
    record_depth(ledger.engine, ledger.rows, NOW - timedelta(hours=3))
    series = chart_series(ledger.rows, NOW, 24, live=(2, 1))
    assert len(series.hours) == 24 and series.hours[-1] == now_hour
    assert series.files[-3:] == [3, 0, 1] and series.bytes[-3:] == [30, 0, 1]
    assert sum(series.files) == 4  # the 30-hour-old one is outside the window
    assert series.backlog[-4:] == [1, None, None, 3]
    week = chart_series(ledger.rows, NOW, 168)
    assert sum(week.files) == 5 and week.backlog[-1] is None
    assert chart_series(ledger.rows, NOW, 168, live=(2, 1)).last(24) == series


def test_the_overview_says_whether_anything_is_stuck(config: Config, ledger: Ledger) -> None:
    shown = overview(config, ledger.rows, None, NOW)
    assert not shown["stuck"]
    assert as_json(shown)["charts"]["7d"]["hours"][-1] == "2026-03-01T12:00+00:00"
    ledger.add_job("dead1", "ship", {}, state=JobState.DEAD)
    shown = overview(config, ledger.rows, None, NOW)
    assert shown["stuck"] and shown["jobs_by_state"]["dead"] == 1
    assert shown["open_jobs"]["items"][0]["id"] == "dead1"
