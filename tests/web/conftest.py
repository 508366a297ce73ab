"""The ``dashboard`` fixture: a real service in this process, its dashboard on loopback.

The service runs :meth:`Daemon.run` in a thread over a configuration in a
temporary folder: a spool ``outbox`` shipped on arrival to a ``file://``
partner folder (route ``outbox-to-partner``), an archive ``events`` handing
its sealed files to the spool, a SQLite ledger, and the data center with a
sample schema (table ``customers``).  The endpoint listens on
``127.0.0.1:0`` with the operator's and the viewer's token files.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from entrepot.datacenter import DataCenter
from entrepot.service.daemon import Daemon
from entrepot.service.loading import load_config
from entrepot.web import dashboard_for
from tests.servers._common import wait_until

SCHEMA = """\
[tables.customers]
key = ["customer_id"]
[tables.customers.columns]
customer_id = { type = "regex", pattern = "C[0-9]{3}" }
name = { type = "text", required = true }
country = { type = "choice", choices = ["fr", "de", "nl"] }
"""

CONFIG = """\
[service]
state = "state"
listen = "127.0.0.1:0"
token_file = "operator.token"
viewer_token_file = "viewer.token"
grace = "10s"
scan_every = "1s"
backlog = {{ delay = "1s", max_delay = "2s", runs = 100 }}

[spools.outbox]
path = "outbox"

[targets.partner]
url = "{partner}"

[routes.outbox-to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
retry = {{ max_tries = 1, delay = "0s" }}

[archives.events]
folder = "archives/events"
spool = "outbox"
max_records = 100

[datacenter]
root = "dc"
schemas = "dc/schema.toml"
{extra}
"""


@dataclass
class Dashboard:
    """A running service with its dashboard; tokens by role."""

    root: Path
    config_path: Path
    daemon: Daemon
    url: str
    tokens: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: str | None = "operator", **kwargs: object) -> httpx.Client:
        """An HTTP client of the dashboard sending ``role``'s token (``None``: no token)."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]
        self.clients.append(client)
        return client

    def login(self, role: str = "operator") -> httpx.Client:
        """A client logged in through the form (a session cookie, as a browser has)."""
        client = self.client(None, follow_redirects=False)
        reply = client.post("/login", data={"token": self.tokens[role], "next": "/"})
        assert reply.status_code == 303, reply.text
        return client

    def csrf(self, client: httpx.Client, path: str = "/config") -> str:
        """The CSRF token of ``client``'s session, read from a page's form."""
        import re

        page = client.get(path).text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "no CSRF field on the page"
        return found.group(1)


def write_config(root: Path, *, extra: str = "", partner: str | None = None) -> Path:
    """The fixture's configuration (and its folders, schema and token files) under ``root``."""
    (root / "partner").mkdir(exist_ok=True)
    DataCenter(root / "dc", create=True)
    (root / "dc" / "schema.toml").write_text(SCHEMA)
    for role in ("operator", "viewer"):
        token = root / f"{role}.token"
        if not token.exists():
            token.write_text(secrets.token_urlsafe(24) + "\n")
            token.chmod(0o600)
    path = root / "entrepot.toml"
    path.write_text(CONFIG.format(partner=partner or (root / "partner").as_uri(), extra=extra))
    return path


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    with running_dashboard(tmp_path) as running:
        yield running


class running_dashboard:
    """Start the service of ``write_config(root)`` in a thread; stop it on exit."""

    def __init__(self, root: Path, *, extra: str = "", partner: str | None = None) -> None:
        self.config_path = write_config(root, extra=extra, partner=partner)
        self.root = root

    def __enter__(self) -> Dashboard:
        path = self.config_path
        self.daemon = Daemon(load_config(path), reread=lambda: load_config(path), hints=False)
        self.daemon.companions.dashboard = dashboard_for(self.daemon)
        self.thread = threading.Thread(target=self.daemon.run, name="service", daemon=True)
        cwd = os.getcwd()
        self.thread.start()
        wait_until(lambda: self.daemon.companions.address is not None, timeout=30,
                   what="the dashboard")  # fmt: skip
        assert os.getcwd() == cwd
        tokens = {
            role: (self.root / f"{role}.token").read_text().strip()
            for role in ("operator", "viewer")
        }
        self.running = Dashboard(
            self.root, path, self.daemon, str(self.daemon.companions.address), tokens
        )
        return self.running

    def __exit__(self, *exc: object) -> None:
        for client in self.running.clients:
            client.close()
        self.daemon.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the service did not stop"
