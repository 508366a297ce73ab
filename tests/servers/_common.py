"""Helpers shared by the server fixtures: free ports, readiness, skip-or-fail, HTTP requests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

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


def sbin_command(name: str) -> str:
    """A daemon's full path: Debian puts them in /usr/sbin, often not on a runner's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        server_unavailable(f"command {name!r} not found (apt-get install it)")
        raise AssertionError("unreachable")
    return found


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


#: Local accounts the system daemons (vsftpd, sshd) log in: one that may write, one
#: that may only read.  Created on first use, with these passwords.
SYSTEM_USER, SYSTEM_PASSWORD = "entrepot-test", "system-pw-Ünï-42"
SYSTEM_READER, SYSTEM_READER_PASSWORD = "entrepot-read", "reader-pw-42"


def system_users() -> tuple[int, int]:
    """Create (once) the two local accounts and set their passwords; return their uids.

    Needs root; several test workers may call it at once, so the account
    files are changed under a lock.
    """
    import fcntl
    import pwd
    import subprocess

    if os.geteuid() != 0:
        server_unavailable("creating the local test accounts needs root")
    with open("/tmp/entrepot-test-accounts.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for user, password in (
            (SYSTEM_USER, SYSTEM_PASSWORD),
            (SYSTEM_READER, SYSTEM_READER_PASSWORD),
        ):
            try:
                pwd.getpwnam(user)
            except KeyError:
                subprocess.run(
                    ["useradd", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", user],
                    check=True,
                    capture_output=True,
                )
            subprocess.run(
                ["chpasswd"],
                input=f"{user}:{password}\n",
                text=True,
                check=True,
                capture_output=True,
            )
    return pwd.getpwnam(SYSTEM_USER).pw_uid, pwd.getpwnam(SYSTEM_READER).pw_uid


class Daemon:
    """A server program run as our child on a port of its own, restartable on that port.

    ``command(port)`` gives its command line.  Ports are found by binding
    and releasing, which races with other workers: when the program exits
    at once (its port was taken meanwhile), it is started again on another.
    """

    def __init__(self, name: str, command: Callable[[int], list[str]], log: str) -> None:
        self.name = name
        self.command = command
        self.log = log
        self.port = 0
        self._proc: Any = None

    @property
    def running(self) -> bool:
        return self._proc is not None

    def start(self) -> None:
        import subprocess

        if self._proc is not None:
            return
        for attempt in range(5):
            port = self.port or free_port()
            with open(self.log, "ab") as log:
                proc = subprocess.Popen(
                    self.command(port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and proc.poll() is None and not port_open(port):
                time.sleep(0.02)
            if proc.poll() is None and port_open(port):
                self.port, self._proc = port, proc
                return
            self._end(proc)
            if self.port and attempt >= 2:
                break  # our own port stays taken: give up
        raise RuntimeError(f"{self.name} did not start; see {self.log}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._end(proc)
            wait_until(lambda: not port_open(self.port), timeout=10, what=f"{self.name} stop")

    @staticmethod
    def _end(proc: Any) -> None:
        """Kill the program and every session it forked, as a server that goes down does.

        The sessions may have left its process group (sshd's call setsid), so
        they are found as its descendants.
        """
        import signal

        for pid in [*_descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


def _descendants(root: int) -> list[int]:
    """The processes descended from ``root`` (Linux ``/proc``), deepest last."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += children
        frontier = children
    return found


def serve_as_accounts(prefix: str, make: Callable[[Any], Any]) -> Iterator[Any]:
    """Run a system daemon for a session: ``make(base)`` builds it in a fresh folder.

    The folder is outside pytest's private temporary folder (the local
    accounts must reach it); its ``home`` sub-folder belongs to
    :data:`SYSTEM_USER`.  Removed at the end.
    """
    import tempfile
    from pathlib import Path

    writer, _ = system_users()
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    try:
        server = make(base)
        server.home.mkdir()
        os.chown(server.home, writer, -1)
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(base, ignore_errors=True)
        server_unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def account_folder(home: Any) -> dict[str, Any]:
    """A fresh folder under ``home`` owned by :data:`SYSTEM_USER`, as folder-fixture fields.

    ``folder`` is its absolute path without the leading slash (the URL adds it).
    """
    import uuid

    writer, _ = system_users()
    folder = home / f"t-{uuid.uuid4().hex[:10]}"
    folder.mkdir()
    os.chown(folder, writer, -1)
    return {
        "folder": str(folder).lstrip("/"),
        "user": SYSTEM_USER,
        "password": SYSTEM_PASSWORD,
        "readonly_user": SYSTEM_READER,
        "readonly_password": SYSTEM_READER_PASSWORD,
    }


def read_http_request(reader: Any) -> bytes | None:
    """One HTTP request (head and ``Content-Length`` body) from ``reader``; None at its end."""
    lines = []
    length = 0
    while True:
        line = reader.readline()
        if not line:
            return None
        lines.append(line)
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        if line == b"\r\n":
            return b"".join(lines) + reader.read(length)  # type: ignore[no-any-return]
