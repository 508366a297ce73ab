"""The fleet page when an instance's clock is ahead.

It used to print a beat stamped in the future as a negative age
(``-570.0 s ago``) and said nothing of the clock.  Now the beat reads
``in 9m``, each instance's clock offset has a column (``not measured`` on a
SQLite ledger, which has no clock of its own), and a clock too far off is
listed under "Clocks", its instance's name escaped like every other text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from entrepot.jobs import Ledger
from entrepot.jobs.clock import FakeClock
from entrepot.jobs.ledger import ledger_url
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard


def test_a_beat_stamped_ahead_is_shown_in_the_future_and_its_clock_listed(
    dashboard: Dashboard,
) -> None:
    client = dashboard.client("viewer")
    this = dashboard.daemon.config.service.instance

    def beaten() -> bool:
        return any(i["name"] == this for i in client.get("/api/fleet").json()["instances"])

    wait_until(beaten, timeout=30, what="this instance's heartbeat")
    ahead = datetime.now(UTC) + timedelta(minutes=9, seconds=30)
    url = ledger_url(dashboard.root / "state")
    with Ledger(url, clock=FakeClock(ahead), instance="edge-<b>7</b>") as fast:
        fast.beat(started_at=ahead, generation=1, every=10, lease=60, report={})
    data = client.get("/api/fleet").json()
    shown = {i["name"]: i for i in data["instances"]}
    assert shown["edge-<b>7</b>"]["beat_age"].startswith("in 9m")
    assert shown["edge-<b>7</b>"]["clock"] == "not measured"
    assert [c["instance"] for c in data["clocks"]] == ["edge-<b>7</b>"]
    assert shown[this]["state"] == "alive" and not shown[this]["clock_skewed"]
    page = client.get("/fleet")
    assert page.status_code == 200
    assert "1 clock(s) off" in page.text and "<h2>Clocks</h2>" in page.text
    assert "(in 9m" in page.text and re.search(r"\(-[\d.]+ ?m?s ago\)", page.text) is None
    assert "edge-&lt;b&gt;7&lt;/b&gt;" in page.text and "<b>7</b>" not in page.text
