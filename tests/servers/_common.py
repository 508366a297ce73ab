"""Helpers shared by the server fixtures: free ports, readiness, skip-or-fail."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def server_unavailable(reason: str) -> None:
    """Skip the test locally; fail it in CI, where every server must run."""
    if IN_CI:
        pytest.fail(f"server unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"server unavailable: {reason}")


def require_command(name: str) -> str:
    """The full path of command ``name``, or skip/fail when it is missing."""
    path = shutil.which(name)
    if path is None:
        server_unavailable(f"command {name!r} not found")
        raise AssertionError("unreachable")
    return path


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A TCP port free on 127.0.0.1 now (optionally within [low, high))."""
    if low is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    import random

    assert high is not None
    for _ in range(200):
        port = random.randrange(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in [{low}, {high})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], *, timeout: float = 30.0, what: str = "server") -> None:
    """Poll ``check`` until it is true; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout} s")


class DropCountdown:
    """Cut a client's connection right after its n-th completed upload, once.

    The servers call :meth:`upload_done` after every completed upload and
    cut the connection when it returns True.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: int | None = None

    def arm(self, n: int | None) -> None:
        """Cut after the n-th upload from now (None: never)."""
        with self._lock:
            self._left = n

    def upload_done(self) -> bool:
        """Count one completed upload; True when its connection must be cut now."""
        with self._lock:
            if self._left is None:
                return False
            self._left -= 1
            if self._left > 0:
                return False
            self._left = None
            return True
