"""/metrics counts what really happened: real runs to a real FTP server, scraped over HTTP.

Files are shipped by the job machinery (``ShipJob`` under a ``Runner`` with a
ledger) from two configured spools to a pyftpdlib server; each run is told to
the Prometheus telemetry as the daemon tells it; the endpoint is served by
uvicorn and scraped with httpx.  The counters must equal what arrived on the
server, file for file and byte for byte.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from entrepot.jobs import Ledger, Runner
from entrepot.service.config import Config
from entrepot.service.fleetconfig import default_instance
from entrepot.service.http import HttpEndpoint, start_http
from entrepot.service.loading import load_config
from entrepot.service.metrics import PrometheusTelemetry
from entrepot.service.telemetry import RunSummary
from entrepot.ship import ShipJob, ShipOptions
from entrepot.spool import Spool

pytestmark = pytest.mark.server

TOKEN = "s3cr3t-token-for-the-scraper"


def write_config(tmp_path: Path, ftp: Any) -> Config:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    file = tmp_path / "entrepot.toml"
    file.write_text(
        f"""
[service]
listen = "127.0.0.1:9180"
token_file = "token"
state = "state"

[targets.partner]
url = "{ftp.url}"
password_env = "ENTREPOT_TEST_FTP_PASSWORD"
options = {{ timeout = 30 }}

[spools.a]
path = "spools/a"

[spools.b]
path = "spools/b"

[routes.to-a]
spool = "a"
target = "partner"
every = "1m"
conflict = "fail"

[routes.to-b]
spool = "b"
target = "partner"
on_arrival = true
"""
    )
    return load_config(file)


@pytest.fixture
def config(tmp_path: Path, ftp_server: Any, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ENTREPOT_TEST_FTP_PASSWORD", ftp_server.password)
    config = write_config(tmp_path, ftp_server)
    for spool in config.spools.values():
        Spool(spool.path).prepare()
    return config


@pytest.fixture
def ledger(config: Config) -> Iterator[Ledger]:
    with Ledger.open(config.service.state) as book:
        yield book


@pytest.fixture
def served(config: Config, ledger: Ledger) -> Iterator[tuple[PrometheusTelemetry, HttpEndpoint]]:
    telemetry = PrometheusTelemetry(config, ledger=ledger)
    telemetry.config_loaded(1, True)
    endpoint = start_http(config, telemetry, listen="127.0.0.1:0")
    assert endpoint is not None
    yield telemetry, endpoint
    endpoint.stop()


def ship(config: Config, ledger: Ledger, telemetry: PrometheusTelemetry, route: str) -> None:
    """One run of ``route``, told to the telemetry the way the daemon tells it."""
    settings = config.routes[route]
    target = config.targets[settings.target]
    job = ShipJob(
        str(config.spools[settings.spool].path),
        target.url,
        options=ShipOptions(conflict=settings.conflict),
        target_options=target.open_options(),
        max_tries=1,
    )
    started = time.monotonic()
    result = Runner(ledger).run(job)
    telemetry.run_finished(
        RunSummary(
            kind="ship",
            name=route,
            target=settings.target,
            outcome=str(result.outcome),
            seconds=time.monotonic() - started,
            files=len(job.report.done),
            bytes=job.report.bytes,
            failed_files=len(job.report.failed),
            trigger="every",
        )
    )


def publish(config: Config, spool: str, sizes: list[int], prefix: str) -> None:
    for number, size in enumerate(sizes):
        Spool(config.spools[spool].path).publish_bytes(
            bytes([number]) * size, f"{prefix}-{number}.dat"
        )


def scrape(endpoint: HttpEndpoint) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(
        f"{endpoint.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    # Every sample names the instance of the fleet it comes from (the host by default).
    assert {sample.labels.get("instance") for sample in samples} == {default_instance()}
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "instance"))): s.value
        for s in samples
    }


def value(samples: dict[Any, float], metric: str, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]


def test_counters_equal_what_arrived_on_the_server(
    config: Config,
    ledger: Ledger,
    served: tuple[PrometheusTelemetry, HttpEndpoint],
    ftp_server: Any,
) -> None:
    telemetry, endpoint = served
    # Route to-a refuses to overwrite: one of its files is already on the server.
    publish(config, "a", [10, 2000, 33_000, 1, 7], "a")
    (ftp_server.root / "a-3.dat").write_bytes(b"already there")
    ship(config, ledger, telemetry, "to-a")
    # Route to-b runs twice, its counters add up.
    publish(config, "b", [100, 200, 300], "b")
    ship(config, ledger, telemetry, "to-b")
    publish(config, "b", [4096, 5], "b2")
    ship(config, ledger, telemetry, "to-b")
    telemetry.archive_sealed("events", 120, 4567)
    telemetry.archive_sealed("events", 30, 1000)
    telemetry.config_loaded(2, False)  # a broken reload: generation 1 stays

    samples = scrape(endpoint)
    on_server = {path.name: path.stat().st_size for path in ftp_server.root.iterdir()}
    sent_a = {n: s for n, s in on_server.items() if n.startswith("a-") and n != "a-3.dat"}
    sent_b = {n: s for n, s in on_server.items() if n.startswith("b")}
    assert (len(sent_a), len(sent_b)) == (4, 5)

    labels = {"direction": "ship", "target": "partner"}
    assert value(samples, "entrepot_files_total", route="to-a", result="ok", **labels) == 4
    assert value(samples, "entrepot_files_total", route="to-a", result="failed", **labels) == 1
    assert value(samples, "entrepot_bytes_total", route="to-a", **labels) == sum(sent_a.values())
    assert value(samples, "entrepot_files_total", route="to-b", result="ok", **labels) == 5
    assert value(samples, "entrepot_files_total", route="to-b", result="failed", **labels) == 0
    assert value(samples, "entrepot_bytes_total", route="to-b", **labels) == sum(sent_b.values())
    assert value(samples, "entrepot_runs_total", kind="ship", name="to-a", outcome="failed") == 1
    assert value(samples, "entrepot_runs_total", kind="ship", name="to-b", outcome="succeeded") == 2
    assert value(samples, "entrepot_job_duration_seconds_count", kind="ship") == 3

    # From the ledger: to-a's job waits in the backlog.
    assert value(samples, "entrepot_ledger_up") == 1
    assert value(samples, "entrepot_jobs", state="backlog") == 1
    assert value(samples, "entrepot_jobs", state="succeeded") == 2
    # From the spool folders: to-a's refused file is back in new/, the others in cur/.
    assert value(samples, "entrepot_spool_files", spool="a", area="new") == 1
    assert value(samples, "entrepot_spool_bytes", spool="a", area="new") == 1
    assert value(samples, "entrepot_spool_files", spool="a", area="cur") == 4
    assert value(samples, "entrepot_spool_files", spool="b", area="cur") == 5
    assert value(samples, "entrepot_spool_files", spool="b", area="claimed") == 0
    assert value(samples, "entrepot_spool_oldest_file_age_seconds", spool="a", area="new") >= 0
    assert value(samples, "entrepot_spool_oldest_file_age_seconds", spool="b", area="new") == 0

    assert value(samples, "entrepot_archive_seals_total", archive="events") == 2
    assert value(samples, "entrepot_archive_records_total", archive="events") == 150
    assert value(samples, "entrepot_archive_bytes_total", archive="events") == 5567
    assert value(samples, "entrepot_config_generation") == 1
    assert value(samples, "entrepot_config_last_load_successful") == 0
    assert value(samples, "entrepot_config_loads_total", result="refused") == 1
    assert value(samples, "entrepot_last_success_timestamp_seconds", kind="ship", name="to-b") > 0


def test_readiness_reports_each_routes_last_run(
    config: Config, ledger: Ledger, served: tuple[PrometheusTelemetry, HttpEndpoint]
) -> None:
    telemetry, endpoint = served
    publish(config, "b", [10], "b")
    ship(config, ledger, telemetry, "to-b")
    response = httpx.get(
        f"{endpoint.url}/readyz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["problems"] == []
    assert body["config"] == {"loaded": True, "generation": 1}
    assert body["routes"]["to-b"]["last_outcome"] == "succeeded"
    assert body["routes"]["to-b"]["last_success"] is not None
    assert body["routes"]["to-a"] == {
        "kind": "ship",
        "last_outcome": None,
        "last_run": None,
        "last_success": None,
    }
