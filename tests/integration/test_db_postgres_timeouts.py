"""PostgreSQL connections that give up: a connect timeout and TCP keepalives.

What was wrong: the engines of a PostgreSQL ledger or data center had no
connect timeout and no keepalives, so ``serve`` and ``status`` hung for
minutes on a server that accepted the connection but never answered (a
stuck host, a half-open firewall).

What is expected now: every PostgreSQL connection carries libpq's
``connect_timeout`` (10 s), TCP keepalives and ``tcp_user_timeout``,
unless its URL sets them itself; a command against a server that never
answers fails within that bound, saying it cannot reach the database,
with exit 5 (temporary).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from entrepot.db import PG_CONNECT_ARGS, make_engine
from tests.hostile._shipping import entrepot


def _parameters(url: str) -> dict[str, str]:
    engine = make_engine(url, purpose="ledger")
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            return dict(raw.info.get_parameters())  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.server
def test_a_real_server_is_reached_with_the_bounds_set(postgres_url: str) -> None:
    found = _parameters(postgres_url)
    for key, value in PG_CONNECT_ARGS.items():
        assert found.get(key) == str(value), (key, found)


@pytest.mark.server
def test_bounds_the_url_sets_are_kept(postgres_url: str) -> None:
    found = _parameters(postgres_url + "?connect_timeout=4&keepalives_idle=7")
    assert (found["connect_timeout"], found["keepalives_idle"]) == ("4", "7")
    assert found["tcp_user_timeout"] == "60000"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog does) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_is_given_up_with_exit_5(silent_port: int) -> None:
    url = f"postgresql://entrepot:unused@127.0.0.1:{silent_port}/entrepot"
    began = time.monotonic()
    done = entrepot("jobs", "ls", "--ledger", url, timeout=120)
    took = time.monotonic() - began
    assert done.returncode == 5, done.stderr
    assert "cannot reach the database" in done.stderr
    assert "unused" not in done.stderr
    assert took < PG_CONNECT_ARGS["connect_timeout"] + 15, took
