"""A route's last error in ``entrepot status``, found in bounded reads (SQLite, PostgreSQL).

The last error was looked for among every failed run of the ledger, newest
first, until one of the route's: a route that never failed, beside one that
failed a million times, read them all (a second a route; 25 s for a service
of 21 routes).  Now the newest :data:`RECENT_FAILURES` failed runs are read
first, and only when there are more failures than those does a route found
in none of them look among its own jobs.  The answer is the same.
"""

from __future__ import annotations

import pytest

from entrepot.jobs import Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob
from entrepot.service import status
from tests.integration import test_jobs_ledger_backends as backends

url = backends.url


def _fail(runner: Runner, identity: str) -> None:
    runner.run(ScriptedJob(fail={"send": ["permanent"]}, identity=identity))


def test_the_last_error_is_found_however_many_failures_came_after(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "RECENT_FAILURES", 3)
    with Ledger(url) as ledger:
        runner = Runner(ledger, policy=RetryPolicy.never())
        _fail(runner, "quiet")  # failed once, long ago
        for _ in range(5):
            _fail(runner, "noisy")
        runner.run(ScriptedJob(identity="fine"))
        rows = ledger.rows
        older = rows(status._FAILURES_SEEN, {"recent": 3})[0][0] >= 3
        assert older
        quiet = status._route_history(rows, "quiet", older=older)
        assert quiet["last_error"] is not None and quiet["last_error"]["error"]
        # Found only among its own jobs: not among the three newest failures.
        assert status._route_history(rows, "quiet", older=False).get("last_error") is None
        assert status._route_history(rows, "noisy", older=older)["last_error"] is not None
        assert status._route_history(rows, "fine", older=older).get("last_error") is None
