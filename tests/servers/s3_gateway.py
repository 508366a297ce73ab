"""A gateway in front of the test S3 store that drops ``If-None-Match``.

Stores without conditional writes (older ones, some gateways) take the
header and write anyway.  SeaweedFS honours it, so to test what Entrepôt
does with a store that does not, requests pass through this gateway: it
removes ``If-None-Match`` and signs the request again with the test
identity (the header was signed; a request changed in flight would be
refused), then relays the store's answer.  Only what the direct S3 path
sends is relayed: bodies with a ``Content-Length``.

Fixture ``s3_forgetful`` (on ``s3_server``): an :class:`S3Folder`-like
object whose ``url`` points at the gateway; ``gateway.dropped`` counts the
headers removed.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from entrepot.targets.s3_signing import SigV4
from tests.servers.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Folder

_RESIGNED = {"authorization", "x-amz-date", "x-amz-content-sha256", "host", "content-length"}


class Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store_host: str, store_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.store = (store_host, store_port)
        self.signer = SigV4(ACCESS_KEY, SECRET_KEY, None, REGION)
        self.dropped = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Gateway

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kept = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower == "if-none-match":
                with self.server.lock:
                    self.server.dropped += 1
            elif lower not in _RESIGNED:
                kept[name] = value
        if self.command in {"PUT", "POST"}:
            kept["Content-Length"] = str(len(body))
        path, _, query = self.path.partition("?")
        host, port = self.server.store
        signed = self.server.signer.sign(
            self.command, f"{host}:{port}", path, kept, body, query=query
        )
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request(self.command, self.path, body=body or None, headers=signed)
            reply = conn.getresponse()
            data = reply.read()
            self.send_response(reply.status)
            for name, value in reply.getheaders():
                if name.lower() not in {"transfer-encoding", "content-length", "connection"}:
                    self.send_header(name, value)
            length_header = reply.getheader("Content-Length")
            if self.command == "HEAD" and length_header is not None:
                self.send_header("Content-Length", length_header)
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _relay


@dataclass
class ForgetfulFolder:
    """The prefix of ``folder``, reached through a gateway that drops ``If-None-Match``."""

    folder: S3Folder
    gateway: Gateway

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    @property
    def url(self) -> str:
        return self.folder.url.replace(self.folder.endpoint_url, self.endpoint_url)

    def open(self, **more: Any) -> Any:
        from entrepot.targets import open_target

        return open_target(self.url, **{**self.folder.options, **more})


@pytest.fixture
def s3_forgetful(s3_server: S3Folder) -> Iterator[ForgetfulFolder]:
    gateway = Gateway("127.0.0.1", s3_server.port)
    thread = threading.Thread(target=gateway.serve_forever, name="s3-gateway", daemon=True)
    thread.start()
    try:
        yield ForgetfulFolder(s3_server, gateway)
    finally:
        gateway.shutdown()
        gateway.server_close()
        thread.join()
