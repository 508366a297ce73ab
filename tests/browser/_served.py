"""``entrepot serve`` in a subprocess with its dashboard, shipping to a real FTP server.

:func:`served_dashboard` writes a configuration under a test's folder — a
spool ``outbox`` shipped on arrival to an FTP server of the test's own
(pyftpdlib, ``tests/servers/ftp.py``; stopping it disturbs no other test),
its password in a private file; an archive ``events`` handing its sealed
files to the spool; the data center with a sample schema; the dashboard on
``127.0.0.1:0`` with the operator's and the viewer's token files — and
starts the service.  A failed run waits in the backlog for ten minutes, so
only the dashboard's **Retry** runs it again within a test.

Browser helpers: :func:`log_in` through the form, :func:`shown_after_reloads`
for what the service does in the background (a server-rendered page shows
it on a later load).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from entrepot.cli.demo_config import write_private
from tests.integration._service import Service, service_json
from tests.servers._common import wait_until
from tests.servers.ftp import PASSWORD, USER, FTPServer
from tests.web.conftest import SCHEMA

CONFIG = """\
[service]
listen = "127.0.0.1:0"
token_file = "operator.token"
viewer_token_file = "viewer.token"
state = "state"
scan_every = "1s"
# Only the dashboard's Retry runs a failed job again within a test.
backlog = {{ delay = "10m", max_delay = "10m", runs = 100 }}

[spools.outbox]
path = "outbox"

[targets.partner]
url = "ftp://{user}@127.0.0.1:{port}/drop"
password_file = "ftp.password"
options = {{ timeout = 5 }}

[routes.outbox-to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
retry = {{ max_tries = 1, delay = "0s" }}

[archives.events]
folder = "events"
spool = "outbox"
max_records = 50

[datacenter]
root = "datacenter"
schemas = "datacenter/schema.toml"
"""


@dataclass
class Served:
    """The running service: its URL, tokens, folders, its FTP server and the process."""

    root: Path
    url: str
    tokens: dict[str, str]
    ftp: FTPServer
    service: Service

    @property
    def config_path(self) -> Path:
        return self.root / "entrepot.toml"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def remote(self) -> Path:
        """The FTP server's folder the route delivers into."""
        return self.ftp.root / "drop"

    def api(self, path: str, role: str = "operator") -> Any:
        """The JSON of ``GET path`` with ``role``'s Bearer token."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        reply = httpx.get(self.url + path, headers=headers, timeout=30)
        reply.raise_for_status()
        return reply.json()


def write_config(root: Path, ftp: FTPServer) -> Path:
    (root / "datacenter").mkdir(parents=True, exist_ok=True)
    (root / "datacenter" / "schema.toml").write_text(SCHEMA)
    write_private(root / "ftp.password", PASSWORD)
    for role in ("operator", "viewer"):
        write_private(root / f"{role}.token", secrets.token_urlsafe(24))
    path = root / "entrepot.toml"
    path.write_text(CONFIG.format(user=USER, port=ftp.port))
    return path


@contextmanager
def served_dashboard(root: Path) -> Iterator[Served]:
    """The service of :func:`write_config` over a fresh FTP server; stopped on exit."""
    ftp_root = root / "ftp"
    (ftp_root / "drop").mkdir(parents=True)
    ftp = FTPServer(ftp_root)
    ftp.start()
    service = Service(write_config(root, ftp))
    try:
        service.start()
        wait_until(lambda: bool((service_json(root / "state") or {}).get("listen")),
                   timeout=30, what="the dashboard's address")  # fmt: skip
        url = str((service_json(root / "state") or {})["listen"])
        tokens = {r: (root / f"{r}.token").read_text().strip() for r in ("operator", "viewer")}
        yield Served(root, url, tokens, ftp, service)
        assert service.stop() == 0, service.log()
    finally:
        service.close()
        ftp.stop()


def log_in(page: Any, url: str, token: str) -> None:
    """Log in through the form, as a person does; land on the overview."""
    page.goto(url + "/login")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/")


def shown_after_reloads(page: Any, shown: Callable[[], bool], *, timeout: float = 60) -> None:
    """Reload ``page`` until ``shown()`` (the service works in the background)."""
    deadline = time.monotonic() + timeout
    while not shown():
        if time.monotonic() > deadline:
            raise AssertionError(f"not shown on {page.url} after {timeout} s")
        time.sleep(0.5)
        page.reload()
