"""``entrepot demo --once`` checks through the dashboard's JSON API, and says what differs."""

from __future__ import annotations

from entrepot.cli.demo_check import DashboardApi, outcome_problems, wait_for_outcome
from entrepot.cli.demo_flow import Fed
from entrepot.jobs import Runner
from entrepot.service.building import import_job
from entrepot.spool import Spool
from tests.web.conftest import Dashboard

CUSTOMERS = "customer_id,name,country\nC001,Ada,fr\nC002,,de\nC003,Bo,nl\n"


def _feed_and_wait(dashboard: Dashboard, api: DashboardApi, fed: Fed) -> None:
    """Publish ``a.csv`` and ``b.csv``, import ``customers.csv``; wait for the outcome."""
    config = dashboard.daemon.config
    outbox = Spool(config.spools["outbox"].path)
    outbox.publish_bytes(b"a\n", "a.csv")
    outbox.publish_bytes(b"b\n", "b.csv")
    assert config.datacenter is not None
    (config.datacenter.root / "customers.csv").write_text(CUSTOMERS)
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    Runner(ledger).run(import_job(config.datacenter, "customers.csv", "customers"))
    assert wait_for_outcome(api, fed, timeout=60) == []


def test_each_difference_is_named_until_the_outcome_is_as_expected(dashboard: Dashboard) -> None:
    api = DashboardApi(dashboard.url, dashboard.tokens["viewer"])
    fed = Fed(exports=("a.csv", "b.csv"), archives=(), upload="customers.csv",
              rows_ok=2, rows_failed=1)  # fmt: skip
    problems = outcome_problems(api, fed)
    assert "0 of the 2 files fed were delivered" in problems
    assert "no import of customers.csv has run" in problems

    _feed_and_wait(dashboard, api, fed)

    # The same import with other counts expected: the difference is said in one sentence.
    wrong = Fed(exports=fed.exports, archives=(), upload="customers.csv", rows_ok=3, rows_failed=0)
    [problem] = outcome_problems(api, wrong)
    assert "counted 2 rows ok and 1 failed" in problem and "3 and 0 were expected" in problem


def test_an_api_that_does_not_answer_is_reported(dashboard: Dashboard) -> None:
    wrong_token = DashboardApi(dashboard.url, "not-a-token")
    fed = Fed(exports=(), archives=(), upload="x.csv")
    [problem] = wait_for_outcome(wrong_token, fed, timeout=0)
    assert "GET /api/overview answered 401" in problem


def test_deliveries_are_counted_on_every_page_of_runs(dashboard: Dashboard) -> None:
    from entrepot.jobs.testing import ScriptedJob

    api = DashboardApi(dashboard.url, dashboard.tokens["viewer"])
    fed = Fed(exports=("a.csv", "b.csv"), archives=(), upload="customers.csv",
              rows_ok=2, rows_failed=1)  # fmt: skip
    _feed_and_wait(dashboard, api, fed)
    # Sixty runs later, the route's deliveries are on the second page of runs.
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    for _ in range(60):
        Runner(ledger).run(ScriptedJob(items=1))
    listing = api.get("/api/overview")["recent_runs"]
    assert listing["has_next"] and all(run["kind"] == "scripted" for run in listing["items"])
    assert outcome_problems(api, fed) == []
