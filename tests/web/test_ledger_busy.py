"""Actions while another process holds the ledger's write lock.

Retry, Drop and an import started from the page waited out the ledger's
busy timeout (30 s) and then answered a bare 500, with a traceback in the
log.  Now the answer says the database is busy and to try again: a 503 with
``Retry-After`` and a JSON error for a script, a notice on the page it came
from for a form post; the log gets one warning line, no traceback, and the
job is as it was.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from entrepot.jobs import JobState
from tests.web.conftest import Dashboard

CUSTOMERS = "customer_id,name,country\nC001,Ann,fr\n"


@contextmanager
def write_locked(dashboard: Dashboard) -> Iterator[None]:
    """The ledger's write lock, held by a connection of its own (as another process would)."""
    conn = sqlite3.connect(dashboard.root / "state" / "ledger.sqlite3", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run ``calls`` in threads together (each waits out the busy timeout) and answer theirs."""
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def test_actions_on_a_locked_ledger_say_busy(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    ledger.add_job("job-dead", "ship", {}, name="nightly", state=JobState.DEAD)
    (dashboard.root / "dc" / "c.csv").write_text(CUSTOMERS)
    operator = dashboard.client("operator")
    session = dashboard.login()
    csrf = dashboard.csrf(session, "/jobs")
    came_from = f"{dashboard.url}/jobs?page=1"
    caplog.set_level(logging.WARNING, logger="entrepot.web")
    with write_locked(dashboard):
        retried, imported, dropped = _at_once(
            lambda: operator.post("/api/jobs/job-dead/retry", timeout=90),
            lambda: operator.post(
                "/api/datacenter/import",
                data={"file": "c.csv", "table": "customers", "mode": "create"},
                timeout=90,
            ),
            lambda: session.post(
                "/jobs/job-dead/drop",
                data={"csrf": csrf, "reason": "given up"},
                headers={"Referer": came_from},
                timeout=90,
            ),
        )
    for answer in (retried, imported):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert "busy" in answer.json()["error"] and "try again" in answer.json()["error"].lower()
    assert dropped.status_code == 303 and dropped.headers["location"] == "/jobs?page=1"
    assert "The database is busy" in session.get("/jobs").text
    assert ledger.get("job-dead").state == JobState.DEAD
    busy = [r for r in caplog.records if getattr(r, "event", None) == "web.database_busy"]
    assert len(busy) == 3 and all(r.levelno == logging.WARNING and not r.exc_info for r in busy)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Once the lock is gone, the same action works.
    assert operator.post("/api/jobs/job-dead/retry").status_code == 200
