"""Helpers of the service tests: ``entrepot serve`` in a subprocess, configurations, checks."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets import is_partial
from tests.servers._common import wait_until

#: Short enough for tests: a scan a second, a backlog re-run after one or two seconds.
SERVICE = """\
[service]
state = "state"
grace = "10s"
scan_every = "1s"
backlog = {{ delay = "1s", max_delay = "2s", runs = 100 }}
{extra}
"""


def ftp_section(name: str, ftp: Any, spool: str, *, parallel: int = 2) -> str:
    """A spool, an FTP target (password from FTP_PW) and an on-arrival route between them."""
    return f"""
[spools.{spool}]
path = "{spool}"

[targets.{name}]
url = "{ftp.url}"
password_env = "FTP_PW"
options = {{ timeout = 10 }}

[routes.{spool}-to-{name}]
spool = "{spool}"
target = "{name}"
on_arrival = true
parallel = {parallel}
retry = {{ max_tries = 1, delay = "0s" }}
"""


def s3_section(name: str, s3: Any, spool: str) -> str:
    """A spool, an S3 target (secret key from S3_SECRET) and an on-arrival route."""
    return f"""
[spools.{spool}]
path = "{spool}"

[targets.{name}]
url = "{s3.url}"
password_env = "S3_SECRET"
options = {{ access_key = "{s3.access_key}", timeout = 10, max_attempts = 1 }}

[routes.{spool}-to-{name}]
spool = "{spool}"
target = "{name}"
on_arrival = true
retry = {{ max_tries = 1, delay = "0s" }}
"""


class Service:
    """``entrepot serve --config FILE`` as a child process, one log file per start."""

    #: The module run as ``python -m MODULE serve`` (the fleet tests add a job kind).
    module = "entrepot"

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.logs: list[Path] = []

    def start(self, *, ready: bool = True, args: tuple[str, ...] = ()) -> Service:
        self.starts += 1
        log = self.config.parent / f"serve-{self.starts}.log"
        self.logs.append(log)
        with open(log, "wb") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "serve", "--config", str(self.config), *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
            )
        if ready:
            self.wait_for("service.ready", timeout=60)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.logs[-1].read_text(errors="replace") if self.logs else ""

    def wait_for(self, text: str, *, timeout: float = 60) -> None:
        def seen() -> bool:
            if text in self.log():
                return True
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log()}")
            return False

        wait_until(seen, timeout=timeout, what=text)

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the end; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop within {timeout} s:\n{self.log()}") from None

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to end by itself; the exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def delivered(folder: Path) -> dict[str, str]:
    """Final names in a local (or FTP server's) folder → their checksums (partials left out)."""
    return {
        path.name: digest(path.read_bytes())
        for path in folder.iterdir()
        if path.is_file() and not is_partial(path.name)
    }


def wait_delivered(
    expected: dict[str, str], found: Callable[[], dict[str, str]], **kw: Any
) -> None:
    """Wait until ``found()`` holds every file of ``expected`` (name → checksum)."""
    wait_until(lambda: expected.items() <= found().items(), what="delivery", **kw)


def service_json(state: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state / "service.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def settle(seconds: float) -> None:
    time.sleep(seconds)


@pytest.fixture(name="services")
def services_fixture() -> Iterator[list[Service]]:
    """Services a test starts (append them): killed at the end if still running."""
    started: list[Service] = []
    yield started
    for service in started:
        service.close()


def one_route_service(
    root: Path, services: list[Service], *, state: str = "state", service: str = "",
    token: str | None = None,
) -> Service:  # fmt: skip
    """A service (not started) of :func:`tests.one_route.one_route` shipping on arrival to
    ``root/dest``, configured in ``root/entrepot.toml``; ``token``: written to
    ``root/token`` (0600) for ``token_file = "token"``.  Stopped with ``services``."""
    from tests.one_route import one_route

    (root / "dest").mkdir()
    if token is not None:
        (root / "token").write_text(token)
        (root / "token").chmod(0o600)
    config = root / "entrepot.toml"
    config.write_text(one_route(root, state=state, service=service, trigger="on_arrival = true"))
    made = Service(config)
    services.append(made)
    return made
