"""The route pages' reads of the ledger on SQLite and a real PostgreSQL: a route's runs a
page at a time (newest job first), its open jobs, and the failures among its latest runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from entrepot.jobs import FakeClock, Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob
from entrepot.web import routes_data
from entrepot.web.routes_data import history, last_errors
from tests.integration import test_jobs_ledger_backends as backends

url = backends.url


def test_runs_pages_open_jobs_and_errors(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(datetime(2026, 12, 5, 2, 0, tzinfo=UTC))
    with Ledger(url, clock=clock) as ledger:
        runner = Runner(ledger, policy=RetryPolicy(attempts=1, delay=0, jitter=0))
        for number in range(7):
            clock.advance(60)
            fail = {"send": ["permanent"]} if number in (2, 6) else {}
            runner.run(ScriptedJob(identity="route-a", items=number, fail=fail))
        clock.advance(60)
        runner.run(ScriptedJob(identity="route-b", items=100))
        monkeypatch.setattr(routes_data, "RUNS_PER_PAGE", 3)
        first = history(ledger.engine, ["route-a"], 1)
        third = history(ledger.engine, ["route-a"], 3)
        assert [(run.items, run.outcome) for run in first.runs] == [
            (6, "failed"),
            (5, "succeeded"),
            (4, "succeeded"),
        ]
        assert first.has_next and not third.has_next
        assert [(run.items, run.outcome) for run in third.runs] == [(0, "empty")]
        # The last run failed: its job waits, the only open one (superseded ones are not).
        assert first.jobs == {"backlog": 1}
        both = history(ledger.engine, ["route-a", "route-b"], 1)
        assert both.runs[0].items == 100 and len(both.runs) == 3 and both.has_next
        errors = last_errors(ledger.engine, ["route-a"], [], None)
        assert [run.outcome for run in errors["runs"]] == ["failed", "failed"]
        assert errors["runs"][0].started_at > errors["runs"][1].started_at
        assert history(ledger.engine, [], 1).runs == []
