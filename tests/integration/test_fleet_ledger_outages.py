"""``entrepot serve`` on a PostgreSQL ledger that goes down, hangs, or is shared by a twin.

What was wrong:

* the service crashed (exit 1, a traceback) at its next periodic scan once
  PostgreSQL was down, although its heartbeat and lanes rode the outage out;
* with a database that accepts connections and never answers, SIGTERM was
  ignored for as long as the database hung (the main thread stuck in a
  call), whatever ``grace`` said;
* a second live ``serve`` under an instance name already in use was
  accepted silently: the two overwrote one heartbeat row, and when one was
  killed the other renewed the dead one's claims and job leases for ever.

What is expected now: a scan that cannot reach the ledger is logged once
(``service.scan_failed``) and tried again, ``/readyz`` says not ready, and
the files published meanwhile are shipped once the database is back; a
stop ends the process within ``grace`` and a margin, logging
``service.stop_forced`` with exit 143; a second live instance of a name is
refused at its start (exit 3), and the name is free again after a clean
stop or once its process is gone.

Real processes and a real PostgreSQL (a private server where it is stopped).
"""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from entrepot.cli.exitcodes import ExitCode
from entrepot.spool import Spool
from tests.integration._service import Service, services_fixture  # noqa: F401
from tests.servers._common import free_port, wait_until
from tests.servers.postgres import PostgresServer

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

CONFIG = """\
[service]
state = "{state}"
ledger = "postgresql://{user}@127.0.0.1:{port}/{db}"
instance = "{instance}"
scan_every = "1s"
grace = "{grace}"
listen = "127.0.0.1:{listen}"
backlog = {{ delay = "1s", max_delay = "1s", runs = 100 }}
fleet = {{ heartbeat = "0.3s", lease = "1.5s", silent_after = 3 }}

[spools.out]
path = "{root}/out-{state}"

[targets.drop]
url = "file://{root}/drop"

[routes.out-to-drop]
spool = "out"
target = "drop"
on_arrival = true
"""


def _config(
    root: Path, server: PostgresServer, db: str, *, state: str = "a", instance: str = "one",
    port: int | None = None, grace: str = "5s",
) -> Path:  # fmt: skip
    (root / "drop").mkdir(exist_ok=True)
    Spool(root / f"out-{state}").prepare()
    path = root / f"{state}.toml"
    path.write_text(CONFIG.format(state=state, user=server.user, port=port or server.port, db=db,
                                  instance=instance, grace=grace, listen=free_port(),
                                  root=root))  # fmt: skip
    return path


def _service(path: Path, server: PostgresServer, services: list[Service]) -> Service:
    service = Service(path, env={"PGPASSWORD": server.password})
    services.append(service)
    return service


def _readyz(path: Path) -> int:
    listen = next(line for line in path.read_text().splitlines() if line.startswith("listen"))
    port = int(listen.split(":")[-1].strip('"'))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_ledger_going_down_while_serving_is_ridden_out(
    private_postgres_server: PostgresServer, tmp_path: Path, services: list[Service]
) -> None:
    server = private_postgres_server
    path = _config(tmp_path, server, server.create_database())
    service = _service(path, server, services).start()
    spool = Spool(tmp_path / "out-a")
    spool.publish_bytes(b"before\n", "before.csv")
    wait_until(lambda: (tmp_path / "drop" / "before.csv").exists(), what="first delivery")
    server.stop()
    service.wait_for("service.scan_failed", timeout=30)
    spool.publish_bytes(b"during\n", "during.csv")
    time.sleep(3)  # three scans more while the database is down
    assert service.proc is not None and service.proc.poll() is None, service.log()
    assert _readyz(path) == 503
    assert "Traceback" not in service.log()
    assert service.log().count("service.scan_failed") == 1  # once for the outage
    assert list((tmp_path / "out-a" / "new").iterdir())  # kept, not lost
    assert server.start().returncode == 0
    wait_until(lambda: (tmp_path / "drop" / "during.csv").exists(), timeout=60,
               what="the file published during the outage delivered")  # fmt: skip
    wait_until(lambda: _readyz(path) == 200, timeout=30, what="ready again")
    assert "service.scan_back" in service.log()
    assert service.stop() == 0


class Relay:
    """A TCP relay to PostgreSQL that can freeze: connections stay open, nothing passes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.frozen.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self.sockets.append(upstream)
            for one, other in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(one, other), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)  # held: the database "hangs"
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def test_a_stop_ends_within_grace_while_the_ledger_hangs(
    postgres_server: PostgresServer, tmp_path: Path, services: list[Service]
) -> None:
    relay = Relay(postgres_server.port)
    try:
        path = _config(tmp_path, postgres_server, postgres_server.create_database(),
                       port=relay.address, grace="1s")  # fmt: skip
        service = _service(path, postgres_server, services).start()
        relay.frozen.set()
        time.sleep(3)  # the next scans (one a second) wait on the database
        began = time.monotonic()
        service.send(signal.SIGTERM)
        code = service.wait(timeout=30)
        took = time.monotonic() - began
    finally:
        relay.frozen.clear()
        relay.close()
    assert code == ExitCode.TERMINATED, service.log()
    assert took < 1 + 5 + 3, took  # grace, the margin, and some slack for a busy machine
    assert "service.stop_forced" in service.log()


def test_a_second_live_instance_of_a_name_is_refused_and_the_name_freed_by_a_stop(
    postgres_server: PostgresServer, tmp_path: Path, services: list[Service]
) -> None:
    db = postgres_server.create_database()
    first = _service(_config(tmp_path, postgres_server, db, state="a", instance="twin"),
                     postgres_server, services).start()  # fmt: skip
    second = _service(_config(tmp_path, postgres_server, db, state="b", instance="twin"),
                      postgres_server, services).start(ready=False)  # fmt: skip
    assert second.wait(timeout=60) == ExitCode.CONFIG
    assert f"PID {first.pid}" in second.log() and "'twin'" in second.log()
    assert "service.ready" not in second.log()
    assert first.stop() == 0
    second.start()  # after a clean stop the name is free
    second.kill()  # kill -9: the row says nothing of a stop, but the process is gone
    first.start()  # on the same host: taken at once, with no wait for silence
    assert first.proc is not None and first.proc.poll() is None
    assert first.stop() == 0
