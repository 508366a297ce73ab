"""Helpers of the shipping, spool and jobs hostile tests: the command in a subprocess,
slow servers (so that a signal lands in the middle of a transfer) and a small disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.servers._common import server_unavailable, wait_until
from tests.servers.ftp import FTPServer


def entrepot(
    *args: object, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``entrepot ARGS`` to its end, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def entrepot_json(*args: object, **kwargs: Any) -> Any:
    done = entrepot(*args, "--json", **kwargs)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def stop_midway(
    args: Sequence[object],
    started: Callable[[], bool],
    sig: signal.Signals,
    *,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Start ``entrepot ARGS``, send ``sig`` once ``started()`` is true, wait for its end."""
    child = subprocess.Popen(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    try:
        wait_until(lambda: started() or child.poll() is not None, timeout=60, what="a transfer")
        assert child.poll() is None, f"finished before the signal: {child.communicate()}"
        child.send_signal(sig)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


class SlowFTPServer(FTPServer):
    """The test FTP server, moving data at ``rate`` bytes a second each way."""

    def __init__(self, root: Path, rate: int) -> None:
        super().__init__(root)
        self.rate = rate

    def _handler_class(self) -> type:
        from pyftpdlib.handlers import DTPHandler

        handler: Any = super()._handler_class()
        rate = self.rate

        class Slow(DTPHandler):  # type: ignore[misc]
            # Each session has a thread of its own: sleeping slows this transfer only.
            def use_sendfile(self) -> bool:
                return False

            def recv(self, buffer_size: int) -> bytes:
                chunk: bytes = super().recv(min(buffer_size, 8192))
                time.sleep(len(chunk) / rate)
                return chunk

            def send(self, data: bytes) -> int:
                sent: int = super().send(data[:8192])
                time.sleep(sent / rate)
                return sent

        handler.dtp_handler = Slow
        return handler  # type: ignore[no-any-return]


@contextmanager
def slow_ftp(root: Path, rate: int) -> Iterator[SlowFTPServer]:
    root.mkdir(parents=True, exist_ok=True)
    server = SlowFTPServer(root, rate)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Throttle:
    """A TCP proxy on loopback to ``port`` passing at most ``rate`` bytes a second upstream."""

    def __init__(self, port: int, rate: int) -> None:
        self.upstream = port
        self.rate = rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        try:
            while data := source.recv(8192):
                if slow:
                    time.sleep(len(data) / self.rate)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self.listener.close()
        for sock in self._sockets:
            sock.close()


@contextmanager
def small_disk(mount: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount``: a real file system that fills up (needs root)."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        server_unavailable(f"cannot mount a small tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def partials(folder: Path, of: str = "") -> list[str]:
    """Temporary upload names left in ``folder`` (of files whose name starts with ``of``)."""
    return sorted(
        name for name in os.listdir(folder) if name.endswith(".partial") and name[1:].startswith(of)
    )


def listing(folder: Path) -> list[str]:
    """The names in ``folder``, none if it does not exist."""
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def ledger_jobs(state: Path) -> list[dict[str, Any]]:
    """Every job of the state folder's ledger, newest first, as ``jobs ls --json`` gives it."""
    return entrepot_json("jobs", "ls", "--state", state)  # type: ignore[no-any-return]


def signal_exit(sig: signal.Signals) -> int:
    return 143 if sig == signal.SIGTERM else 130
