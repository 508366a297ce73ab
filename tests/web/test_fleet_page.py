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


def test_fetched_objects_in_doubt_are_listed_with_how_to_settle_them(
    dashboard: Dashboard,
) -> None:
    from entrepot.ship.claimed import KIND

    client = dashboard.client("viewer")
    assert client.get("/api/fleet").json()["in_doubt"] == []
    # central-<i>1</i> marked an object landing an hour ago, then fell silent.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    url = ledger_url(dashboard.root / "state")
    with Ledger(url, clock=FakeClock(hour_ago), instance="central-<i>1</i>") as other:
        claim = other.claim_key(KIND, "s3://b/edge/o-<1>.csv:v1", lease=10,
                                detail={"name": "o-<1>.csv"})  # fmt: skip
        assert claim is not None
        landing = {"host": "host-a", "spool": "/srv/in", "local": "o-<1>.csv"}
        assert other.land_key(claim, {**(claim.detail or {}), "landing": landing}) is not None
    (doubt,) = client.get("/api/fleet").json()["in_doubt"]
    assert doubt == {"holder": "central-<i>1</i>", "host": "host-a", "name": "o-<1>.csv",
                     "spool": "/srv/in", "key": "s3://b/edge/o-<1>.csv:v1"}  # fmt: skip
    page = client.get("/fleet")
    assert page.status_code == 200
    assert "1 fetched object(s) in doubt" in page.text
    assert "Fetched objects in doubt" in page.text and "--claims --finish NAME" in page.text
    assert "central-&lt;i&gt;1&lt;/i&gt;" in page.text and "o-&lt;1&gt;.csv" in page.text
    assert "<i>1</i>" not in page.text
