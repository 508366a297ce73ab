"""``entrepot serve`` stopped in the middle of its work, against a real FTP server.

SIGTERM in the middle of a batch: the service exits 0, the run is recorded
as interrupted, nothing is left claimed, and a restart delivers the rest —
every file exactly once.  ``kill -9`` ten times during a steady stream from
a producer: every file arrives exactly once (checksums read on the server),
and nothing is left in ``claimed/``.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger, Outcome
from entrepot.spool import Spool
from tests.hostile._shipping import slow_ftp
from tests.integration._service import (
    SERVICE,
    Service,
    delivered,
    digest,
    ftp_section,
    services_fixture,  # noqa: F401 - the fixture `services`
    wait_delivered,
)
from tests.servers._common import wait_until
from tests.servers.ftp import PASSWORD

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


def test_sigterm_in_the_middle_of_a_batch_then_a_restart_delivers_each_file_once(
    tmp_path: Path, services: list[Service]
) -> None:
    with slow_ftp(tmp_path / "ftp-root", 128 * 1024) as server:
        remote = server.root / "drop"
        remote.mkdir()
        ftp = type("F", (), {"url": f"ftp://test@127.0.0.1:{server.port}/drop"})()
        path = tmp_path / "entrepot.toml"
        path.write_text(SERVICE.format(extra="") + ftp_section("ftp", ftp, "out", parallel=2))
        outbox = Spool(tmp_path / "out").prepare()
        files = {}
        for number in range(16):
            data = os.urandom(96 * 1024)  # ~0.75 s each at the server's pace
            files[outbox.publish_bytes(data, f"batch-{number:02d}.bin")] = digest(data)

        service = Service(path, {"FTP_PW": PASSWORD})
        services.append(service)
        service.start()
        wait_until(lambda: len(delivered(remote)) >= 2, timeout=60, what="first files")
        assert service.stop(signal.SIGTERM) == 0
        log = service.log()
        assert "service.stopping reason=SIGTERM" in log and "abandoned=0" in log
        shipped = delivered(remote)
        assert 2 <= len(shipped) < len(files), "the signal came after the batch"
        assert outbox.names("claimed") == []  # transfers in hand finished, the rest released
        assert sorted(outbox.names("new") + outbox.names("cur")) == sorted(files)
        with Ledger.open(tmp_path / "state") as ledger:
            runs = [run for job in ledger.jobs(kind="ship") for run in ledger.runs(job.id)]
        assert Outcome.INTERRUPTED in {run.outcome for run in runs}

        service.start()
        wait_delivered(files, lambda: delivered(remote), timeout=60)
        assert service.stop() == 0
        assert delivered(remote) == files  # each once, none partial, none changed
        assert sorted(outbox.names("cur")) == sorted(files)
        assert outbox.names("claimed") == []


class Producer:
    """Publishes a small file of random bytes into a spool every ``pause`` seconds."""

    def __init__(self, spool: Spool, pause: float = 0.02) -> None:
        self.spool = spool
        self.pause = pause
        self.files: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            data = os.urandom(random.randint(100, 8192))
            name = self.spool.publish_bytes(data, f"stream-{number:05d}.bin")
            self.files[name] = digest(data)
            number += 1
            self._stop.wait(self.pause)

    def __enter__(self) -> Producer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow  # ten starts of the service: about half a minute
def test_kill_9_ten_times_during_a_stream_loses_and_duplicates_nothing(
    tmp_path: Path, ftp_server: Any, services: list[Service]
) -> None:
    path = tmp_path / "entrepot.toml"
    path.write_text(SERVICE.format(extra="") + ftp_section("ftp", ftp_server, "out", parallel=3))
    outbox = Spool(tmp_path / "out").prepare()
    service = Service(path, {"FTP_PW": ftp_server.password})
    services.append(service)
    rng = random.Random(9)
    with Producer(outbox) as producer:
        for _ in range(10):
            service.start()
            # Killed while it works: a random moment after some deliveries.
            before = len(delivered(ftp_server.root))
            wait_until(
                lambda before=before: len(delivered(ftp_server.root)) > before,  # type: ignore[misc]
                timeout=60,
                what="deliveries",
            )
            time.sleep(rng.uniform(0.0, 0.3))
            service.kill()
    service.start()
    files = producer.files
    assert len(files) > 50
    wait_delivered(files, lambda: delivered(ftp_server.root), timeout=60)
    wait_until(lambda: not outbox.names("new"), timeout=10, what="new/ empty")
    assert service.stop() == 0
    assert delivered(ftp_server.root) == files  # every file once, with its own bytes
    assert outbox.names("claimed") == []
    assert sorted(outbox.names("cur")) == sorted(files)
    recovered = sum(log.read_text().count("service.recovered") for log in service.logs)
    assert recovered >= 1, "no start had anything to recover: the kills came at quiet times"
