"""The fleet page: this service and the others sharing its ledger, silent ones flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entrepot.jobs import Ledger
from entrepot.jobs.clock import FakeClock
from entrepot.jobs.ledger import ledger_url
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard


def test_the_fleet_page_shows_this_instance_alive_and_a_silent_one(dashboard: Dashboard) -> None:
    client = dashboard.client("viewer")
    this = dashboard.daemon.config.service.instance

    def beaten() -> bool:
        return any(i["name"] == this for i in client.get("/api/fleet").json()["instances"])

    wait_until(beaten, timeout=30, what="this instance's heartbeat")
    # Another instance of the same ledger, whose last heartbeat was an hour ago.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    url = ledger_url(dashboard.root / "state")
    with Ledger(url, clock=FakeClock(hour_ago), instance="edge-<b>9</b>") as other:
        other.beat(started_at=hour_ago, generation=4, every=10, lease=60,
                   report={"spools": {"outbox": {"waiting": 3}}, "routes": {}})  # fmt: skip
    data = client.get("/api/fleet").json()
    states = {i["name"]: i["state"] for i in data["instances"]}
    assert states[this] == "alive"
    assert states["edge-<b>9</b>"] == "silent"
    assert data["silent"] == ["edge-<b>9</b>"]
    page = client.get("/fleet")
    assert page.status_code == 200
    assert "edge-&lt;b&gt;9&lt;/b&gt;" in page.text and "<b>9</b>" not in page.text
    assert "1 silent" in page.text
