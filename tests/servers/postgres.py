"""A real PostgreSQL 15 on loopback, started with ``initdb`` and ``pg_ctl``.

PostgreSQL refuses to run as root, so when the tests run as root the
cluster is created and started as the ``postgres`` system user (through
``runuser``), in a folder owned by that user.  The server listens on a free
port of 127.0.0.1 with password authentication, and is stopped with
``pg_ctl`` at the end of the session.

Fixtures:

* ``postgres_server`` (session) — a :class:`PostgresServer` with ``host``,
  ``port``, ``user``, ``password``, ``url(database)`` and ``create_database()``;
* ``postgres_url`` (function) — the SQLAlchemy URL of a fresh, empty database;
* ``private_postgres_server`` (function) — a server of the test's own, which
  it may :meth:`~PostgresServer.stop` and :meth:`~PostgresServer.start` again.

Without PostgreSQL the tests are skipped locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers._common import free_port, server_unavailable

BIN_DIRS = ("/usr/lib/postgresql/15/bin",)
SUPERUSER = "postgres"


def find_bin_dir() -> Path | None:
    for folder in BIN_DIRS:
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    bin_dir: Path
    base: Path
    port: int
    password: str
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    as_postgres: bool = False
    created: list[str] = field(default_factory=list)
    #: The server's own options (port, socket folder, no fsync), kept for a restart.
    options: str = ""

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, database: str = "postgres") -> str:
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", SUPERUSER, "--"] if self.as_postgres else []
        return [*prefix, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def stop(self) -> None:
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start(self) -> subprocess.CompletedProcess[str]:
        """Start the server (again) on its port; wait until it takes connections."""
        return self.run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            self.options,
            "start",
            timeout=90,
        )


def _start() -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        server_unavailable("PostgreSQL binaries (initdb, pg_ctl) not found")
        raise AssertionError("unreachable")
    as_postgres = os.geteuid() == 0
    if as_postgres and shutil.which("runuser") is None:
        server_unavailable("running as root and 'runuser' is missing")
    base = Path(tempfile.mkdtemp(prefix="entrepot-pg-"))
    password = uuid.uuid4().hex
    server = PostgresServer(
        bin_dir=bin_dir, base=base, port=free_port(), password=password, as_postgres=as_postgres
    )
    (base / "sock").mkdir()
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if as_postgres:
        shutil.chown(base, SUPERUSER, SUPERUSER)
        for path in (base / "sock", pwfile):
            shutil.chown(path, SUPERUSER, SUPERUSER)
    init = server.run(
        str(bin_dir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        SUPERUSER,
        "-A",
        "scram-sha-256",
        f"--pwfile={pwfile}",
        "-E",
        "UTF8",
        "--no-sync",
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        server_unavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
    log_file = base / "server.log"
    for _ in range(5):
        server.options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {base / 'sock'} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = server.start()
        if start.returncode == 0:
            break
        log = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
        if "Address already in use" not in log:
            break
        # The port found free was taken before the server bound it (finding free
        # ports by binding and releasing races with other workers): another one.
        server.port = free_port()
        log_file.unlink()
    if start.returncode != 0:
        log = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        server_unavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log}")
    return server


def _running() -> Iterator[PostgresServer]:
    """A server started for the caller, stopped and removed afterwards."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        server_unavailable("psycopg is not installed")
    server = _start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _running()


@pytest.fixture
def private_postgres_server() -> Iterator[PostgresServer]:
    """A server for one test alone, which the test may stop and start."""
    yield from _running()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new empty database on the session's server."""
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.server, pytest.mark.xdist_group("postgres")]),
    ]
)
def either_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new empty database's URL, once a SQLite file and once on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))
