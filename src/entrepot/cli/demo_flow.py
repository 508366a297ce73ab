"""What ``entrepot demo`` feeds the running service: files, events and a CSV with bad rows.

Each step is what a producer does beside a running service: CSV exports
published into the spool (the route ships them on arrival), events appended
to the configured archive (sealed archives are handed to the same spool and
shipped too), and a CSV file dropped into the data center's watched folder
(imported into SQLite; its bad rows wait in a pending file with their
reasons).  :class:`Fed` says what was fed, which is what the check expects.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from entrepot.cli.demo_config import DEMO_CUSTOMERS, DEMO_ROWS_FAILED, DEMO_ROWS_OK
from entrepot.service.archives import archive_writer
from entrepot.service.config import Config
from entrepot.spool import Spool

__all__ = ["UPLOAD_NAME", "Fed", "archive_events", "drop_upload", "feed", "publish_exports"]

#: The name of the CSV file dropped into the watched folder (imported into table ``customers``).
UPLOAD_NAME = "customers.csv"


@dataclass(frozen=True)
class Fed:
    """What the demo gave the service: the names it must deliver, and the upload."""

    exports: tuple[str, ...]
    archives: tuple[str, ...]
    upload: str
    rows_ok: int = DEMO_ROWS_OK
    rows_failed: int = DEMO_ROWS_FAILED

    @property
    def deliveries(self) -> int:
        return len(self.exports) + len(self.archives)


def publish_exports(spool: Spool, files: int, rng: random.Random) -> tuple[str, ...]:
    """A nightly export: ``files`` CSV files published into ``spool`` in one durable batch."""
    names = []
    with spool.batch() as batch:
        for number in range(files):
            rows = "".join(
                f"{number * 100 + row},{rng.choice(['fr', 'de', 'nl'])},{rng.randint(1, 999)}.00\n"
                for row in range(100)
            )
            name = f"orders-{number:03d}.csv"
            batch.add_bytes(("id,country,amount\n" + rows).encode(), name)
            names.append(name)
    return tuple(names)


def archive_events(config: Config, events: int, rng: random.Random) -> tuple[str, ...]:
    """``events`` login events into the archive ``events``; the names of its sealed archives."""
    if events == 0:
        return ()
    writer = archive_writer(config, "events")
    try:
        for number in range(events):
            payload = {"event": "login", "user": f"u{rng.randint(1, 50)}", "n": number}
            writer.write({"source": "demo", "kind": "login"}, json.dumps(payload))
    finally:
        writer.close()
    return tuple(Path(path).name for path in writer.finished)


def drop_upload(folder: Path) -> str:
    """The sample CSV (with bad rows) dropped into the watched folder: written, then renamed."""
    part = folder / f"{UPLOAD_NAME}.part"  # never taken while it is being written
    part.write_text(DEMO_CUSTOMERS, encoding="utf-8")
    os.replace(part, folder / UPLOAD_NAME)
    return UPLOAD_NAME


def feed(config: Config, *, files: int, events: int, seed: int = 42) -> Fed:
    """Every step of the demo's producers, into the service described by ``config``."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    exports = publish_exports(Spool(config.spools["outbox"].path), files, rng)
    archives = archive_events(config, events, rng)
    assert config.datacenter is not None and config.datacenter.watch is not None
    upload = drop_upload(config.datacenter.watch)
    return Fed(exports, archives, upload)
