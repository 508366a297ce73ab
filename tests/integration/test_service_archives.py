"""The service and ``[archives.*]``: an archive whose producer died is sealed, handed on, shipped.

A producer writes events through the configured writer
(:func:`entrepot.service.archives.archive_writer`) and is killed with
SIGKILL, leaving its ``.open`` file; ``entrepot serve`` seals it (every
event the producer's writes acknowledged), hands it to the section's spool
and ships it to the route's target.  An archive whose writer is alive is
left alone until that writer rolls it itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrepot.archive import ArchiveReader
from entrepot.service.archives import archive_writer
from entrepot.service.loading import load_config
from tests.integration._service import (
    SERVICE,
    Service,
    services_fixture,  # noqa: F401 - the fixture `services`
)
from tests.servers._common import wait_until

pytestmark = pytest.mark.server

ARCHIVES = """
[spools.sealed]
path = "sealed"

[targets.vault]
url = "{vault}"

[archives.events]
folder = "events"
compress = "zstd"
spool = "sealed"
sync = "record"

[routes.sealed-to-vault]
spool = "sealed"
target = "vault"
on_arrival = true
"""

# Writes events with the configured writer, says how many, then waits to be killed.
PRODUCER = """
import sys, time
from entrepot.service.archives import archive_writer
from entrepot.service.loading import load_config
writer = archive_writer(load_config(sys.argv[1]), "events")
for number in range(int(sys.argv[2])):
    writer.write({"kind": "tick"}, {"n": number})
print("written", flush=True)
time.sleep(600)
"""


def _events(path: Path) -> list[int]:
    with ArchiveReader(path) as reader:
        return [record.payload["n"] for record in reader]


def test_an_archive_whose_producer_died_is_sealed_and_shipped(
    tmp_path: Path,
    services: list[Service],
) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    config = tmp_path / "entrepot.toml"
    config.write_text(SERVICE.format(extra="") + ARCHIVES.format(vault=vault.as_uri()))
    events = tmp_path / "events"

    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(config), "25"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert producer.stdout is not None
    try:
        assert producer.stdout.readline().strip() == "written"
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait()
        producer.stdout.close()
    assert [p.name for p in events.iterdir() if p.name.endswith(".open")]

    # A writer that lives: its archive is not the service's to seal.
    live = archive_writer(load_config(config), "events", recover=False)
    live.write({"kind": "tick"}, {"n": 1000})
    live_open = [p for p in events.iterdir() if p.name.endswith(".open")]
    assert len(live_open) == 2

    service = Service(config).start()
    services.append(service)

    def delivered() -> list[Path]:
        # Not the temporary name an upload in progress has (".NAME.TOKEN.partial").
        return [p for p in vault.iterdir() if not p.name.startswith(".")]

    wait_until(lambda: len(delivered()) == 1, timeout=60, what="the sealed archive")
    service.wait_for("service.archive_sealed")
    (shipped,) = delivered()
    assert shipped.name.startswith("events-20") and shipped.name.endswith(".events.zst")
    assert "{" not in shipped.name  # the default template renders every field
    assert _events(shipped) == list(range(25))
    remaining = [p for p in events.iterdir() if p.name.endswith(".open")]
    assert len(remaining) == 1 and remaining[0].exists()  # the live writer's, untouched

    # Once the live writer closes, its archive is rolled by the writer and shipped too.
    live.close()
    wait_until(lambda: len(list(vault.iterdir())) == 2, timeout=60, what="the second archive")
    second = next(p for p in vault.iterdir() if p != shipped)
    assert _events(second) == [1000]
    assert service.stop() == 0
    assert not [p for p in events.iterdir() if p.name.endswith(".open")]


def test_validate_knows_the_archive_section(tmp_path: Path, cli: Any) -> None:
    config = tmp_path / "entrepot.toml"
    text = SERVICE.format(extra="") + ARCHIVES.format(vault=(tmp_path / "v").as_uri())
    config.write_text(text.replace('spool = "sealed"\nsync', 'spool = "seled"\nsync'))
    code, _, err = cli("validate", config)
    assert code == 3
    assert "seled" in err and "sealed" in err
    # A template field that does not exist would be written into every name as is.
    config.write_text(
        text.replace('folder = "events"', 'folder = "events"\ntemplate = "ev-{start}.events"')
    )
    code, _, err = cli("validate", config)
    assert code == 3
    assert "unknown field" in err and "{host}, {seq} and {uuid}" in err
