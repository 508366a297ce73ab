"""/readyz and /metrics with the ledger on a real PostgreSQL that stops, comes back, or hangs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from entrepot.jobs import Ledger
from entrepot.service.config import Config
from entrepot.service.http import HttpEndpoint, start_http
from entrepot.service.metrics import PrometheusTelemetry

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

TOKEN = "readiness-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config_for(tmp_path: Path) -> Config:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    return Config.model_validate(
        {
            "service": {
                "listen": "127.0.0.1:9180",
                "token_file": str(token),
                "state": str(tmp_path / "state"),
            }
        }
    )


def serve(
    config: Config, ledger: Ledger, timeout: float
) -> tuple[PrometheusTelemetry, HttpEndpoint]:
    telemetry = PrometheusTelemetry(config, ledger=ledger, timeout=timeout)
    telemetry.config_loaded(1, True)
    endpoint = start_http(config, telemetry, listen="127.0.0.1:0")
    assert endpoint is not None
    return telemetry, endpoint


def ledger_up(endpoint: HttpEndpoint) -> float:
    response = httpx.get(f"{endpoint.url}/metrics", headers=AUTH, timeout=60)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        if family.name == "entrepot_ledger_up":
            return family.samples[0].value
    raise AssertionError("no entrepot_ledger_up in the scrape")


def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.2)


@pytest.fixture
def pg_ledger(private_postgres_server: Any) -> Iterator[tuple[Any, Ledger]]:
    server = private_postgres_server
    with Ledger(server.url(server.create_database())) as book:
        yield server, book


def test_readyz_follows_the_ledgers_postgresql_down_and_back(
    tmp_path: Path, pg_ledger: tuple[Any, Ledger]
) -> None:
    server, ledger = pg_ledger
    config = config_for(tmp_path)
    _telemetry, endpoint = serve(config, ledger, timeout=5)
    try:
        ready = httpx.get(f"{endpoint.url}/readyz", headers=AUTH, timeout=60)
        assert ready.status_code == 200, ready.text
        assert ready.json()["ledger"] == {"ok": True, "error": None}

        server.stop()
        down = httpx.get(f"{endpoint.url}/readyz", headers=AUTH, timeout=60)
        assert down.status_code == 503
        body = down.json()
        assert body["ready"] is False and body["ledger"]["ok"] is False
        assert body["problems"][0].startswith("the ledger does not answer")
        assert server.password not in down.text
        assert ledger_up(endpoint) == 0  # the scrape still answers
        assert httpx.get(f"{endpoint.url}/healthz", timeout=60).status_code == 200

        assert server.start().returncode == 0
        eventually(
            lambda: (
                httpx.get(f"{endpoint.url}/readyz", headers=AUTH, timeout=60).status_code == 200
            ),
            "ready again",
        )
        assert ledger_up(endpoint) == 1
    finally:
        endpoint.stop()


def test_a_ledger_that_hangs_does_not_hang_the_scrape(tmp_path: Path, postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    _telemetry, endpoint = serve(config_for(tmp_path), ledger, timeout=1)
    dsn = ledger.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    try:
        # A real hang: another session holds the jobs table, every read of it waits.
        with psycopg.connect(dsn) as blocker:
            blocker.execute("LOCK TABLE entrepot_jobs IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            assert ledger_up(endpoint) == 0
            readyz = httpx.get(f"{endpoint.url}/readyz", headers=AUTH, timeout=60)
            assert readyz.status_code == 503
            assert "did not answer within 1 s" in readyz.json()["ledger"]["error"]
            # Bounded by the timeout, not by the lock (held until this block ends).
            assert time.monotonic() - started < 30
            blocker.rollback()
        eventually(lambda: ledger_up(endpoint) == 1, "the ledger answering again")
    finally:
        endpoint.stop()
        ledger.close()
