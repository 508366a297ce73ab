"""A route's receipt with no ``since``: its whole delivery history, streamed.

The download built the whole receipt in memory before sending a byte (a
million events: 9–14 s, 44–99 MB a request; four at once took the service
to 1.1 GB).  Now it is written as it is read, a page of rows at a time
(``transfer-encoding: chunked``, no length known beforehand), still the
very text ``entrepot receipt`` writes; and at most two run at once: a
third is told to come back (503 with ``Retry-After``) until one ends, the
client gone included.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from entrepot.db import write_transaction
from entrepot.provenance.reader import PAGE
from entrepot.web.pages.trace import RECEIPT_DOWNLOADS
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard
from tests.web.test_trace import ROUTE

#: Deliveries recorded: three pages of the reader, a receipt of megabytes.
DELIVERIES = 2 * PAGE + 2_000


def _delivered(dashboard: Dashboard, count: int = DELIVERIES) -> None:
    """``count`` deliveries of the route, written straight into the provenance record."""
    from entrepot.provenance import Kind
    from entrepot.provenance.events import place_of
    from entrepot.provenance.inserts import insert_rows
    from entrepot.provenance.journal import event_row
    from entrepot.provenance.schema import ensure_tables

    assert dashboard.daemon.ledger is not None
    engine = dashboard.daemon.ledger.engine
    ensure_tables(engine)  # the service makes them on its first record, maybe not yet
    place = place_of(dashboard.root / "outbox")
    target = (dashboard.root / "partner").as_uri()
    rows = [
        event_row(Kind.DELIVERED, place, f"history-{n:06d}.csv", size=n, target=target,
                  checksum=f"sha256:{n:064x}", details={"remote_name": f"history-{n:06d}.csv"})
        for n in range(count)
    ]  # fmt: skip
    with write_transaction(engine) as conn:
        insert_rows(conn, rows)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_whole_history_is_streamed_as_the_command_writes_it(
    dashboard: Dashboard, cli: Any, fmt: str
) -> None:
    _delivered(dashboard)
    viewer = dashboard.client("viewer")
    with viewer.stream("GET", "/trace/receipt", params={"route": ROUTE, "format": fmt}) as reply:
        assert reply.status_code == 200
        assert "content-length" not in reply.headers
        assert reply.headers["transfer-encoding"] == "chunked"
        body = reply.read().decode()
    code, out, _ = cli("receipt", ROUTE, "--config", dashboard.config_path, "--format", fmt)
    assert code == 0 and body == out
    assert out.count("history-") == 2 * DELIVERIES  # name and remote name of each


def _held(url: str, token: str) -> socket.socket:
    """A receipt download that reads its status line and then nothing more."""
    address = urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    sock.sendall(
        f"GET /api/trace/receipt?route={ROUTE}&format=json HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


def test_receipts_downloaded_at_once_are_bounded(dashboard: Dashboard) -> None:
    _delivered(dashboard)
    token = dashboard.tokens["viewer"]
    held = [_held(dashboard.url, token) for _ in range(RECEIPT_DOWNLOADS)]
    try:
        viewer = dashboard.client("viewer")
        refused = viewer.get("/api/trace/receipt", params={"route": ROUTE})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] and "try again" in refused.json()["error"]
        # The other pages keep answering meanwhile.
        assert viewer.get("/api/overview").status_code == 200
    finally:
        held.pop().close()  # a client gone gives its place back

    def served() -> bool:
        reply = httpx.get(f"{dashboard.url}/api/trace/receipt", params={"route": ROUTE},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        return reply.status_code == 200

    wait_until(served, timeout=30, what="a receipt served again")
    for sock in held:
        sock.close()


def test_a_receipt_of_no_delivery_is_still_whole(dashboard: Dashboard, tmp_path: Path) -> None:
    viewer = dashboard.client("viewer")
    assert viewer.get("/trace/receipt", params={"route": ROUTE, "format": "json"}).text == "[]\n"
    empty = viewer.get("/trace/receipt", params={"route": ROUTE}).text
    assert empty == "name,size,sha256,delivered_at,result,target,remote_name,remote_size," \
        "remote_checksum,job_id,attempt\n"  # fmt: skip
