"""A whole fleet for the end-to-end test: edge and central ``entrepot serve`` processes.

Each instance is a real ``entrepot serve`` subprocess on a configuration file
written here, as a user would deploy it (``docs/fleet-s3.md``, "A whole
deployment"):

* an **edge** has two local spools, ``outbox`` and ``orders``, each with a
  route to the bucket with ``fleet = true`` (``exclusive`` conflicts) and
  the keys ``{route}/{instance}/{yyyy}/{mm}/{dd}/{name}``;
* a **central** instance fetches each route's folder of the bucket under
  claims into a spool of its own kind on the shared file system:
  ``received`` keeps its files, ``orders-in`` is shipped by a shared route
  into the shared data center's watched folder (as ``orders.<name>``: the
  table ``orders``), which imports each file into PostgreSQL.

Every instance has its own state folder and instance name; they share one
PostgreSQL ledger.  Heartbeats come every 0.5 s and leases last 3 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from entrepot.cli.exitcodes import ExitCode
from tests.integration._service import Service
from tests.servers.postgres import PostgresServer

COMMON = """\
[service]
state = "state-{name}"
ledger = "{ledger}"
instance = "{name}"
scan_every = "1s"
grace = "5s"
backlog = {{ delay = "0.5s", max_delay = "1s", runs = 1000 }}
fleet = {{ heartbeat = "0.5s", lease = "3s", silent_after = 3 }}
"""

#: A folder of the bucket, the secret key from S3_SECRET.
BUCKET = """
[targets.{target}]
url = "{url}"
password_env = "S3_SECRET"
options = {{ access_key = "{access_key}", timeout = 20 }}
"""

#: An edge's spools: ``outbox`` (files kept centrally) and ``orders`` (imported centrally).
EDGE = """
[spools.outbox]
path = "{root}/{name}/outbox"

[spools.orders]
path = "{root}/{name}/orders"

[routes.files]
spool = "outbox"
target = "bucket"
on_arrival = true
parallel = 4
fleet = true
remote_name = "{{route}}/{{instance}}/{{yyyy}}/{{mm}}/{{dd}}/{{name}}"

[routes.orders]
spool = "orders"
target = "bucket"
on_arrival = true
parallel = 2
fleet = true
remote_name = "{{route}}/{{instance}}/{{yyyy}}/{{mm}}/{{dd}}/{{name}}"
"""

#: The central side: its spools, fetches and watched folder are the fleet's (one shared folder).
CENTRAL = """
[spools.received]
path = "{root}/central/received"

[spools.orders-in]
path = "{root}/central/orders-in"

[targets.drop]
url = "file://{root}/central/uploads"

[fetches.files]
target = "files-bucket"
spool = "received"
every = "1s"
claims = true
claim_lease = "3s"

[fetches.orders]
target = "orders-bucket"
spool = "orders-in"
every = "1s"
claims = true
claim_lease = "3s"

[routes.to-import]
spool = "orders-in"
target = "drop"
on_arrival = true
shared = true
remote_name = "orders.{{name}}"

[datacenter]
root = "{root}/central/dc"
database = "{data}"
watch = "{root}/central/uploads"
settle = "0.2s"
shared = true
"""

#: The table the central instances import into: one row per order.
SCHEMA = """
[tables.orders]
key = ["order_id"]
[tables.orders.columns]
order_id = { type = "text" }
edge = { type = "text", required = true }
amount = { type = "integer", required = true }
"""


class Deployment:
    """The configuration files of a fleet, the services started on them, and its databases."""

    def __init__(self, server: PostgresServer, bucket: Any, root: Path) -> None:
        from entrepot.datacenter import DataCenter

        self.server = server
        self.bucket = bucket
        self.root = root
        ledger, data = server.create_database(), server.create_database()
        # As written in the configurations: the password comes from PGPASSWORD.
        where = f"postgresql://{server.user}@{server.host}:{server.port}"
        self.ledger_url, self.data_url = f"{where}/{ledger}", f"{where}/{data}"
        #: Engines of the test's own queries (the password in the URL).
        self.ledger = sa.create_engine(server.url(ledger), pool_size=1)
        self.data = sa.create_engine(server.url(data), pool_size=1)
        self.services: dict[str, Service] = {}
        source = Path(__file__).resolve().parents[2]
        self.env = {
            "PGPASSWORD": server.password,
            "S3_SECRET": bucket.secret_key,
            "PYTHONPATH": os.pathsep.join([str(source / "src"), str(source)]),
        }
        center = root / "central" / "dc"
        DataCenter(center, create=True)
        (center / "schema.toml").write_text(SCHEMA)
        (root / "central" / "uploads").mkdir(parents=True)

    def url(self, folder: str = "") -> str:
        """The bucket's URL (the test's prefix), or of ``folder`` below it."""
        where, _, query = self.bucket.url.partition("?")
        return f"{where}/{folder}?{query}" if folder else self.bucket.url

    def config(self, name: str) -> Path:
        fields = {"name": name, "root": self.root, "ledger": self.ledger_url,
                  "data": self.data_url, "access_key": self.bucket.access_key}  # fmt: skip
        text = COMMON.format(**fields)
        if name.startswith("central"):
            for folder in ("files", "orders"):
                text += BUCKET.format(target=f"{folder}-bucket", url=self.url(folder), **fields)
            text += CENTRAL.format(**fields)
        else:
            text += BUCKET.format(target="bucket", url=self.url(), **fields) + EDGE.format(**fields)
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        path = folder / "entrepot.toml"
        path.write_text(text)
        return path

    def start(self, *names: str) -> None:
        """Start the services ``names`` at once and wait until each is ready."""
        for name in names:
            service = self.services.get(name) or Service(self.config(name), env=self.env)
            self.services[name] = service.start(ready=False)
        for name in names:
            self.services[name].wait_for("service.ready", timeout=90)

    def kill(self, name: str) -> None:
        """``kill -9``: no clean-up of any kind."""
        self.services[name].kill()

    def fleet_view(self, name: str) -> tuple[int, dict[str, Any]]:
        """``entrepot status --fleet --json`` with ``name``'s configuration: exit code, view."""
        done = subprocess.run(
            [sys.executable, "-m", "entrepot", "status", "--fleet", "--json",
             "--config", str(self.root / name / "entrepot.toml")],
            capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout)

    def trace(self, pattern: str) -> str:
        """``entrepot trace PATTERN`` on the fleet's ledger: its output ("" while no event
        of the pattern is recorded yet: a run commits its events as it ends)."""
        done = subprocess.run(
            [sys.executable, "-m", "entrepot", "trace", pattern, "--ledger", self.ledger_url],
            capture_output=True, text=True, env={**os.environ, **self.env}, timeout=180,
        )  # fmt: skip
        if done.returncode == ExitCode.NOT_FOUND and "no trace of" in done.stderr:
            return ""
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self) -> None:
        for service in self.services.values():
            service.close()
        self.ledger.dispose()
        self.data.dispose()


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).all())
