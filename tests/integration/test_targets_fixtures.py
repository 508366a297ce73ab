"""The server fixtures themselves: a port taken between "found free" and "bound" is survived.

Free ports are found by binding and releasing, which races with the other
test workers (``-n 2``): the servers that cannot be told to choose their own
port start again on new ones (issue 11 item 7).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.servers import postgres, s3
from tests.servers._common import port_open

pytestmark = pytest.mark.server


def _occupy(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    return sock


@pytest.mark.xdist_group("targets-s3")
def test_seaweedfs_starts_on_new_ports_when_one_was_taken(tmp_path: Path) -> None:
    weed = s3.find_weed()
    if weed is None:
        pytest.skip("no weed command")
    server = s3.S3Server(tmp_path, weed)
    taken = server.ports["filer.port"]
    with _occupy(taken):
        server.start()
        try:
            assert server.ports["filer.port"] != taken
            assert port_open(server.port)
        finally:
            server.stop()


def test_postgres_starts_on_a_new_port_when_its_own_was_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if postgres.find_bin_dir() is None:
        pytest.skip("no PostgreSQL binaries")
    blocker = _occupy(0)
    taken = blocker.getsockname()[1]
    ports: list[int] = [taken]
    real_free_port = postgres.free_port

    def first_taken() -> int:
        return ports.pop(0) if ports else real_free_port()

    monkeypatch.setattr(postgres, "free_port", first_taken)
    with blocker:
        server: Any = postgres._start()
    try:
        assert server.port != taken
        assert server.create_database()
    finally:
        server.stop()
        import shutil

        shutil.rmtree(server.base, ignore_errors=True)
