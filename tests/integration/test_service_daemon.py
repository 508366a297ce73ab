"""``entrepot serve`` as a subprocess, against a real FTP server (pyftpdlib) and SeaweedFS (S3).

Files dropped in a spool arrive; a target that goes away keeps them in the
backlog (one job per route) until it is back; a second service on the same
state folder is refused; SIGHUP takes a good configuration and keeps the
running one when the new one is broken.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import OPEN, JobState, Ledger, build_job
from entrepot.spool import Spool
from tests.integration._service import (
    SERVICE,
    Service,
    delivered,
    digest,
    ftp_section,
    s3_section,
    service_json,
    services_fixture,  # noqa: F401 - the fixture `services`
    wait_delivered,
)
from tests.servers._common import wait_until

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


@pytest.fixture
def env(ftp_server: Any) -> dict[str, str]:
    return {"FTP_PW": ftp_server.password}


def _service(path: Path, text: str, env: dict[str, str], services: list[Service]) -> Service:
    path.write_text(text)
    service = Service(path, env)
    services.append(service)
    return service


def _publish(spool: Path, count: int, prefix: str, size: int = 2048) -> dict[str, str]:
    box = Spool(spool)
    files = {}
    for number in range(count):
        data = os.urandom(size)
        name = box.publish_bytes(data, f"{prefix}-{number:03d}.bin")
        files[name] = digest(data)
    return files


def test_files_dropped_in_spools_arrive_on_ftp_and_s3(
    tmp_path: Path, ftp_server: Any, s3_server: Any, env: dict[str, str], services: list[Service]
) -> None:
    text = SERVICE.format(extra="") + ftp_section("ftp", ftp_server, "to-ftp")
    text += s3_section("s3", s3_server, "to-s3")
    env = {**env, "S3_SECRET": s3_server.secret_key}
    service = _service(tmp_path / "entrepot.toml", text, env, services).start()
    state = service_json(tmp_path / "state")
    assert state is not None and state["pid"] == service.pid and state["generation"] == 1
    assert set(state["routes"]) == {"to-ftp-to-ftp", "to-s3-to-s3"}

    to_ftp = _publish(tmp_path / "to-ftp", 12, "f")
    to_s3 = _publish(tmp_path / "to-s3", 8, "s")
    wait_delivered(to_ftp, lambda: delivered(ftp_server.root), timeout=60)

    def on_s3() -> dict[str, str]:
        client, names = s3_server.client(), s3_server.keys()
        keys = {name: f"{s3_server.prefix}/{name}" for name in names}
        get = client.get_object
        return {
            n: digest(get(Bucket=s3_server.bucket, Key=k)["Body"].read()) for n, k in keys.items()
        }

    wait_delivered(to_s3, on_s3, timeout=60)
    assert Spool(tmp_path / "to-ftp").names("cur") == sorted(to_ftp)
    assert service.stop() == 0
    assert "service.stopped" in service.log()
    assert service_json(tmp_path / "state") is None  # removed on a clean exit
    assert ftp_server.password not in service.log() and s3_server.secret_key not in service.log()


def test_a_target_that_goes_away_keeps_one_job_per_route_in_the_backlog(
    tmp_path: Path,
    ftp_server: Any,
    env: dict[str, str],
    services: list[Service],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = SERVICE.format(extra="") + ftp_section("ftp", ftp_server, "out")
    service = _service(tmp_path / "entrepot.toml", text, env, services).start()
    first = _publish(tmp_path / "out", 3, "a")
    wait_delivered(first, lambda: delivered(ftp_server.root), timeout=60)

    ftp_server.stop()
    waiting = _publish(tmp_path / "out", 4, "b")
    ledger = Ledger.open(tmp_path / "state")

    def failed_runs() -> int:
        jobs = ledger.jobs(states=OPEN, kind="ship")
        return sum(job.failures for job in jobs)

    wait_until(lambda: failed_runs() >= 2, timeout=60, what="failed runs")
    waiting |= _publish(tmp_path / "out", 3, "c")
    wait_until(lambda: failed_runs() >= 3, timeout=60, what="more failed runs")
    open_jobs = ledger.jobs(states=OPEN, kind="ship")
    assert len(open_jobs) == 1, open_jobs  # one waiting job for the route, however many runs
    assert open_jobs[0].state == JobState.BACKLOG
    # What the ledger keeps rebuilds the job (entrepot backlog retry), and holds no secret.
    params = open_jobs[0].params
    assert ftp_server.password not in json.dumps(params)
    assert params["target_options"]["password_env"] == "FTP_PW"
    monkeypatch.setenv("FTP_PW", ftp_server.password)
    assert build_job(open_jobs[0].kind, params).identity() == open_jobs[0].identity
    assert sorted(Spool(tmp_path / "out").names("new")) == sorted(waiting)

    ftp_server.start()
    wait_delivered(waiting, lambda: delivered(ftp_server.root), timeout=60)
    # The same job (the route's one) ends the outage, and nothing else waits.
    job_id = open_jobs[0].id
    wait_until(lambda: ledger.get(job_id).state == JobState.SUCCEEDED, timeout=60, what="job")
    assert not ledger.jobs(states=OPEN, kind="ship")
    ledger.close()
    assert service.stop() == 0


def test_a_second_service_on_the_same_state_folder_is_refused(
    tmp_path: Path, ftp_server: Any, env: dict[str, str], services: list[Service]
) -> None:
    text = SERVICE.format(extra="") + ftp_section("ftp", ftp_server, "out")
    first = _service(tmp_path / "entrepot.toml", text, env, services).start()
    second = Service(tmp_path / "entrepot.toml", env)
    services.append(second)
    second.start(ready=False)
    assert second.wait(timeout=60) == 3
    assert f"PID {first.pid}" in second.log()
    assert "service.ready" not in second.log()
    # The first one is untouched and still works.
    files = _publish(tmp_path / "out", 2, "x")
    wait_delivered(files, lambda: delivered(ftp_server.root), timeout=60)
    assert service_json(tmp_path / "state")["pid"] == first.pid  # type: ignore[index]
    assert first.stop() == 0


def test_sighup_keeps_the_running_configuration_when_the_new_one_is_broken(
    tmp_path: Path, ftp_server: Any, env: dict[str, str], services: list[Service]
) -> None:
    path = tmp_path / "entrepot.toml"
    good = SERVICE.format(extra="") + ftp_section("ftp", ftp_server, "out")
    service = _service(path, good, env, services).start()

    path.write_text(good.replace("on_arrival = true", "on_arival = true"))
    service.send(signal.SIGHUP)
    service.wait_for("service.reload_refused", timeout=60)
    assert "did you mean 'on_arrival'" in service.log()
    files = _publish(tmp_path / "out", 3, "kept")
    wait_delivered(files, lambda: delivered(ftp_server.root), timeout=60)
    assert service_json(tmp_path / "state")["generation"] == 1  # type: ignore[index]

    # A good one is taken: a second route appears and ships.
    (ftp_server.root / "more").mkdir()
    more = ftp_server.url.rstrip("/") + "/more"
    extra = ftp_section("ftp2", type("F", (), {"url": more})(), "out2")
    path.write_text(good + extra)
    service.send(signal.SIGHUP)
    service.wait_for("service.reloaded", timeout=60)
    # service.json is rewritten at the end of the pass that logged the reload.
    wait_until(lambda: (service_json(tmp_path / "state") or {}).get("generation") == 2,
               timeout=30, what="generation 2 in service.json")  # fmt: skip
    files = _publish(tmp_path / "out2", 2, "new")
    wait_delivered(files, lambda: delivered(ftp_server.root / "more"), timeout=60)
    assert service.stop() == 0
