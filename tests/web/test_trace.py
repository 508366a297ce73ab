"""The trace pages through the real endpoint: a delivered file's journey and verdict,
hostile names shown escaped, files not delivered, receipts equal to ``entrepot receipt``."""

from __future__ import annotations

import csv
import glob
import io
from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard, running_dashboard

ROUTE = "outbox-to-partner"


def _ship(dashboard: Dashboard, *names: str) -> None:
    """Publish ``names`` into the outbox and wait until the service traced their delivery."""
    outbox = Spool(dashboard.root / "outbox")
    for name in names:
        outbox.publish_bytes(f"content of {name}\n".encode(), name)
    client = dashboard.client("viewer")

    def traced() -> bool:
        for name in names:
            found = client.get("/api/trace", params={"name": glob.escape(name)}).json()["files"]
            if not found or "delivered" not in found[0]["verdict"]:
                return False
        return True

    wait_until(traced, timeout=30, what="the deliveries in the provenance record")


def test_a_delivered_file_shows_its_journey_and_verdict(dashboard: Dashboard) -> None:
    _ship(dashboard, "orders-1.csv", "orders-2.csv", "other.csv")
    viewer = dashboard.client("viewer")
    data = viewer.get("/api/trace", params={"name": "orders-*.csv"}).json()
    assert [f["name"] for f in data["files"]] == ["orders-1.csv", "orders-2.csv"]
    first = data["files"][0]
    partner = (dashboard.root / "partner").as_uri()
    assert first["spool"] == "outbox"
    assert [e["kind"] for e in first["events"]] == ["claimed", "delivered", "moved"]
    assert first["verdict"].startswith(f"delivered to {partner} at ")
    page = viewer.get("/trace", params={"name": "orders-1.csv", "route": ROUTE})
    assert page.status_code == 200
    assert "orders-1.csv" in page.text and "→ delivered to" in page.text
    assert "other.csv" not in page.text
    # The filters of ``entrepot trace``: target, since, until.
    assert viewer.get("/api/trace", params={"name": "*", "target": "partner"}).json()["files"]
    assert viewer.get("/api/trace", params={"name": "*", "since": "-1d"}).status_code == 400
    inverted = viewer.get("/api/trace", params={"name": "*", "since": "1h", "until": "2h"})
    assert inverted.status_code == 400 and "is not before" in inverted.json()["error"]
    later = viewer.get("/api/trace", params={"name": "*.csv", "since": "2999-01-01"}).json()
    assert later["files"] == [] and later["error"] is None
    unknown = viewer.get("/api/trace", params={"name": "*", "route": "nowhere"})
    assert unknown.status_code == 400 and "nowhere" in unknown.json()["error"]
    missing = viewer.get("/trace", params={"name": "missing.csv"})
    assert missing.status_code == 200 and "No event of a file matching" in missing.text


def test_search_results_are_paginated(dashboard: Dashboard) -> None:
    names = [f"batch-{n:02d}.csv" for n in range(23)]
    _ship(dashboard, *names)
    viewer = dashboard.client("viewer")
    first = viewer.get("/api/trace", params={"name": "batch-*"}).json()
    second = viewer.get("/api/trace", params={"name": "batch-*", "page": "2"}).json()
    assert [f["name"] for f in first["files"]] == names[:20] and first["has_next"] is True
    assert [f["name"] for f in second["files"]] == names[20:] and second["has_next"] is False
    page = viewer.get("/trace", params={"name": "batch-*"}).text
    assert 'href="/trace?name=batch-%2A&amp;page=2"' in page


HOSTILE = '<img src=x onerror="alert(1)">&[1].csv'


def test_hostile_names_are_shown_escaped(dashboard: Dashboard) -> None:
    _ship(dashboard, HOSTILE)
    page = dashboard.client("viewer").get("/trace", params={"name": "*onerror*"})
    assert page.status_code == 200
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;[1].csv" in page.text
    assert "<img" not in page.text
    listed = dashboard.client("viewer").get("/api/trace", params={"name": "*onerror*"}).json()
    assert listed["files"][0]["name"] == HOSTILE
    # A name holding glob characters is traced as itself only.
    exact = dashboard.client("viewer").get("/api/trace", params={"name": "[<]img*"}).json()
    assert [f["name"] for f in exact["files"]] == [HOSTILE]


def test_the_receipt_is_what_entrepot_receipt_writes(dashboard: Dashboard, cli: Any) -> None:
    _ship(dashboard, "r1.csv", "r2.csv")
    viewer = dashboard.client("viewer")
    outbox, state = dashboard.root / "outbox", dashboard.root / "state"
    for fmt in ("csv", "json"):
        reply = viewer.get("/trace/receipt", params={"route": ROUTE, "since": "1d", "format": fmt})
        assert reply.status_code == 200
        assert reply.headers["content-disposition"].startswith(
            f'attachment; filename="receipt-{ROUTE}-'
        )
        code, out, _ = cli("receipt", outbox, "--since", "1d", "--state", state, "--format", fmt)
        assert code == 0 and reply.text == out
    listed = viewer.get("/api/trace/receipt", params={"route": ROUTE, "format": "json"}).json()
    assert [row["name"] for row in listed] == ["r1.csv", "r2.csv"]
    reply = viewer.get("/trace/receipt", params={"route": ROUTE, "since": "1h"})
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [(r["name"], r["result"]) for r in rows] == [
        ("r1.csv", "delivered"),
        ("r2.csv", "delivered"),
    ]
    assert rows[0]["sha256"] and rows[0]["target"] == (dashboard.root / "partner").as_uri()
    assert viewer.get("/trace/receipt", params={"route": ROUTE, "format": "xml"}).status_code == 400
    assert viewer.get("/trace/receipt").status_code == 400


@pytest.fixture
def with_inbox(tmp_path: Path) -> Any:
    # A spool no route ships: what is put there waits.
    with running_dashboard(tmp_path, extra='[spools.inbox]\npath = "inbox"\n') as running:
        yield running


def test_files_not_delivered_are_listed(with_inbox: Dashboard, cli: Any, tmp_path: Path) -> None:
    dashboard = with_inbox
    state = dashboard.root / "state"
    for name in ("late-1.csv", "late-2.csv"):
        (tmp_path / name).write_text("x\n")
        assert cli("spool", "put", dashboard.root / "inbox", tmp_path / name,
                   "--state", state)[0] == 0  # fmt: skip
    viewer = dashboard.client("viewer")
    data = viewer.get("/api/trace/undelivered", params={"since": "1d"}).json()
    assert [(f["spool"], f["name"]) for f in data["files"]] == [
        ("inbox", "late-2.csv"),
        ("inbox", "late-1.csv"),
    ]
    assert data["next_until"] is None
    page = viewer.get("/trace/undelivered", params={"since": "1d"})
    assert page.status_code == 200 and "late-1.csv" in page.text and "inbox" in page.text
    assert viewer.get("/api/trace/undelivered", params={"route": ROUTE}).json()["files"] == []


def test_fleet_details_are_shown_as_the_command_prints_them(dashboard: Dashboard) -> None:
    from entrepot.provenance import Kind, Recorder
    from entrepot.provenance.events import place_of

    assert dashboard.daemon.ledger is not None
    with Recorder(dashboard.daemon.ledger.engine) as recorder:
        details = {"instance": "edge-1", "key": "in/<k>.csv", "etag": "e7"}
        recorder.record(Kind.RECEIVED, place_of(dashboard.root / "outbox"), "fleet.csv",
                        details=details)  # fmt: skip
    page = dashboard.client("viewer").get("/trace", params={"name": "fleet.csv"}).text
    assert "instance <code>edge-1</code>" in page
    assert "key <code>in/&lt;k&gt;.csv</code>" in page and "etag <code>e7</code>" in page


def test_a_routes_receipt_leaves_out_what_another_route_of_its_spool_delivered(
    tmp_path: Path,
) -> None:
    from entrepot.db import make_engine, write_transaction
    from entrepot.provenance import Kind
    from entrepot.provenance.events import place_of
    from entrepot.provenance.inserts import insert_rows
    from entrepot.provenance.journal import event_row

    # A second route of the outbox, to a target whose URL starts with the first's.
    other = f"{(tmp_path / 'partner').as_uri()}-two"
    extra = f'[targets.two]\nurl = "{other}"\n[routes.outbox-to-two]\nspool = "outbox"\n'
    extra += 'target = "two"\ncron = "0 0 1 1 *"\n'
    with running_dashboard(tmp_path, extra=extra) as dashboard:
        _ship(dashboard, "to-partner.csv")
        engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}", purpose="ledger")
        place = place_of(tmp_path / "outbox")
        row = event_row(Kind.DELIVERED, place, "to-two.csv", size=3, target=other)
        with write_transaction(engine) as conn:
            insert_rows(conn, [row])
        engine.dispose()
        viewer = dashboard.client("viewer")
        listed = {}
        for route in (ROUTE, "outbox-to-two"):
            reply = viewer.get("/api/trace/receipt", params={"route": route, "format": "json"})
            listed[route] = [row["name"] for row in reply.json()]
    assert listed == {ROUTE: ["to-partner.csv"], "outbox-to-two": ["to-two.csv"]}
