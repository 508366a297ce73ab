"""What ``entrepot demo`` writes before the service starts: its folder, configuration and tokens.

The demo is the service's first run on embedded defaults only: a spool
``outbox/`` shipped on arrival to the local folder ``partner-drop/`` (a
``file://`` target), event archives handed to the same spool, the data
center importing the CSV files dropped into ``uploads/`` into SQLite with a
sample schema, the ledger in SQLite under ``state/``, and the dashboard on
``127.0.0.1``.  Two tokens, each in a file only its owner may read: the
operator's (everything) and the viewer's (read only), fresh for every run.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEMO_CUSTOMERS",
    "DEMO_MARK",
    "DEMO_SCHEMA",
    "DEMO_STATE",
    "DemoSetup",
    "demo_config",
    "is_demo_folder",
    "write_demo",
    "write_private",
]

#: The data center's sample schema: one table of customers.
DEMO_SCHEMA = """\
[tables.customers]
key = ["customer_id"]
[tables.customers.columns]
customer_id = { type = "regex", pattern = "C[0-9]{3}" }
name = { type = "text", required = true }
country = { type = "choice", choices = ["fr", "de", "nl"] }
since = { type = "date" }
"""

#: A CSV upload with two bad rows (a missing name and a month 13; a country not allowed).
DEMO_CUSTOMERS = (
    "customer_id,name,country,since\n"
    "C001,Ada,fr,2024-01-15\n"
    "C002,Bo,de,2025-03-01\n"
    "C003,,nl,2025-13-01\n"
    "C004,Cy,uk,2026-02-02\n"
    "C005,Di,nl,2026-05-05\n"
)
#: What the import of :data:`DEMO_CUSTOMERS` must report: rows imported, rows pending.
DEMO_ROWS_OK, DEMO_ROWS_FAILED = 3, 2

#: The demo's state folder, inside its folder (the ledger, service.json, the service's lock).
DEMO_STATE = "state"

#: The first line of the demo's configuration: what marks a folder as a demo's own.
DEMO_MARK = "# Entrepôt — the demo's configuration (written by `entrepot demo`)."

_CONFIG = (
    DEMO_MARK
    + """
# Run it again by itself with:  entrepot serve --config {config}

[service]
state = "{state}"                     # the ledger (SQLite) and service.json
listen = "127.0.0.1:{port}"         # the dashboard, /healthz, /readyz, /metrics
token_file = "operator.token"       # may do everything (retry, drop, upload, import, reload)
viewer_token_file = "viewer.token"  # may look
grace = "10s"
scan_every = "2s"
backlog = {{ delay = "5s", max_delay = "1m" }}

[spools.outbox]
path = "outbox"                     # producers publish complete files into outbox/new/

[targets.partner]
url = "{partner}"

[routes.outbox-to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
parallel = 2
retry = {{ max_tries = 3, delay = "1s" }}

[archives.events]                   # rolling event archives, handed to the outbox when sealed
folder = "events"
max_records = {per_archive}
max_idle = "5s"
compress = "zstd"
spool = "outbox"

[datacenter]                        # CSV files dropped into uploads/ are imported into SQLite
root = "datacenter"
schemas = "datacenter/schema.toml"
watch = "uploads"
settle = "1s"
"""
)


@dataclass(frozen=True)
class DemoSetup:
    """Where the demo's pieces are, and its two tokens."""

    folder: Path
    config: Path
    operator_token: str
    viewer_token: str

    @property
    def partner(self) -> Path:
        return self.folder / "partner-drop"

    @property
    def uploads(self) -> Path:
        return self.folder / "uploads"

    @property
    def datacenter(self) -> Path:
        return self.folder / "datacenter"


def demo_config(folder: Path, *, port: int, per_archive: int) -> str:
    """The configuration text for a demo kept in ``folder`` (absolute)."""
    return _CONFIG.format(
        config=folder / "entrepot.toml",
        state=DEMO_STATE,
        port=port,
        partner=(folder / "partner-drop").as_uri(),
        per_archive=per_archive,
    )


def is_demo_folder(folder: Path) -> bool:
    """Whether ``folder`` is empty or an earlier demo's (its configuration starts with
    :data:`DEMO_MARK`): the only folders ``--fresh`` may empty."""
    if not any(folder.iterdir()):
        return True
    config = folder / "entrepot.toml"
    try:
        with config.open(encoding="utf-8") as handle:
            return not config.is_symlink() and handle.readline().rstrip("\n") == DEMO_MARK
    except (OSError, UnicodeDecodeError):
        return False


def write_private(path: Path, text: str) -> None:
    """Write ``text`` into a new file only its owner may read (as token files must be)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # also when the file was there with wider rights
        handle.write(text + "\n")


def write_demo(folder: Path, *, port: int, per_archive: int) -> DemoSetup:
    """Make the demo's folders, its configuration, schema and two fresh tokens."""
    folder = folder.expanduser().absolute()
    for sub in ("partner-drop", "uploads", "datacenter"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "datacenter" / "schema.toml").write_text(DEMO_SCHEMA, encoding="utf-8")
    config = folder / "entrepot.toml"
    config.write_text(demo_config(folder, port=port, per_archive=per_archive), encoding="utf-8")
    setup = DemoSetup(folder, config, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    write_private(folder / "operator.token", setup.operator_token)
    write_private(folder / "viewer.token", setup.viewer_token)
    return setup
