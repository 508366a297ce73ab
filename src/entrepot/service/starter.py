"""The starter configuration that ``entrepot init`` writes.

It runs as it is, on embedded defaults only: a spool ``outbox`` beside the
file, shipped on arrival to the local folder ``delivered`` (a ``file://``
target), the ledger in SQLite under ``state/``.  Every other section is
there as a commented example to edit.
"""

from __future__ import annotations

import os
from pathlib import Path

from entrepot.errors import ConfigError
from entrepot.spool import AREAS, Spool

__all__ = ["STARTER", "write_starter"]

STARTER = """\
# Entrepôt — the service's configuration (written by `entrepot init`).
#
#   entrepot validate            check it: every problem, with its line
#   entrepot validate --connect  …and connect to each target
#   entrepot serve               run it (SIGHUP or `entrepot reload` re-reads it)
#
# Relative paths are read from this file's folder.  Secrets are never
# written here: a target names a variable (password_env) or a private file
# (password_file) that holds its password.

[service]
state = "state"                  # the ledger (SQLite) and service.json; one service per folder
# ledger = "postgresql://entrepot@db.example.org/entrepot"   # a shared ledger (PGPASSWORD)
# listen = "127.0.0.1:9180"      # /healthz, /readyz, /metrics
# token_file = "/etc/entrepot/token"
log_format = "text"              # or "json": one object per line
grace = "30s"                    # how long a stop lets runs in progress finish
scan_every = "30s"               # every folder is looked at this often, whatever the notifications

[service.backlog]                # a run that failed all its tries waits, then runs again
delay = "1m"                     # the first wait, doubling each time…
max_delay = "1h"                 # …up to this
runs = 8                         # failed runs in a row before the job waits for an operator

[spools.outbox]
path = "outbox"                  # producers publish complete files into outbox/new/

[targets.local]
url = "{delivered}"
# [targets.partner]
# url = "sftp://drop@sftp.example.org/incoming"
# password_env = "PARTNER_PASSWORD"
# options = {{ known_hosts = "~/.ssh/known_hosts", timeout = 30 }}

[routes.outbox-to-local]
spool = "outbox"
target = "local"
on_arrival = true                # ship as soon as a file is published
# every = "5m"                   # and/or on an interval
# cron = "0 2 * * *"             # and/or on a schedule (this host's time zone)
parallel = 2                     # transfers at once
after = "cur"                    # delivered files move to outbox/cur/ ("delete", "archive")
retry = {{ max_tries = 3, delay = "2s" }}

# [fetches.from-partner]         # bring a remote folder's files into a spool
# target = "partner"
# spool = "outbox"
# every = "10m"

# [archives.events]              # rolling event archives, handed to a spool when sealed
# folder = "events"
# max_size = "64MB"
# max_idle = "5m"
# compress = "zstd"
# spool = "outbox"

# [datacenter]                   # CSV imports into SQLite (or PostgreSQL)
# root = "datacenter"
# watch = "uploads"              # dropped files go to table <their name up to the first dot>
"""


def write_starter(path: Path) -> list[Path]:
    """Write the starter configuration at ``path`` and make its folders; refuse to overwrite.

    Everything in the way is looked for first, and named, so that a refusal
    leaves nothing behind.  Returns what was created: the file, the spool and
    the delivery folder.
    """
    path = path.expanduser().absolute()
    if os.path.lexists(path):
        raise ConfigError(f"{path} exists: not overwritten (remove it, or name another file)")
    base = path.parent
    if not _utf8(str(path)):
        # The target's file:// URL and the records name folders in UTF-8 text only.
        raise ConfigError(
            f"{path} is in a folder whose name is not UTF-8: the configuration could "
            "not name its folders; choose a folder named in UTF-8"
        )
    delivered, outbox = base / "delivered", base / "outbox"
    for folder in (base, delivered, outbox, *(outbox / area for area in AREAS)):
        _no_file_in_the_way(folder)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"cannot make the folder {base}: a file is in the way") from exc
    text = STARTER.format(delivered=delivered.as_uri())
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    delivered.mkdir(exist_ok=True)
    Spool(outbox).prepare()
    return [path, outbox, delivered]


def _no_file_in_the_way(folder: Path) -> None:
    """Refuse when ``folder`` (or a folder above it, up to one that is there) is a file
    or a link to nothing: ``mkdir`` would fail there after the configuration was written."""
    for place in (folder, *folder.parents):
        if place.is_dir():
            return
        if os.path.lexists(place):
            kind = "a link to nothing" if place.is_symlink() and not place.exists() else "a file"
            what = f"{kind} is in the way" if place == folder else f"{place} is {kind}"
            raise ConfigError(f"cannot make the folder {folder}: {what} (nothing was written)")


def _utf8(text: str) -> bool:
    """False for a path holding bytes that are not UTF-8 (read as surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
