"""``entrepot serve`` adds, as it starts, the events journaled by a process that died.

What was wrong: the events a killed instance had journaled but not yet
written to the ledger were added only when that instance next ran something
that records (or when ``trace`` ran with its configuration): an instance
whose shared route always went to another one never added them, and the
fleet's traces missed those files.

What is expected now: the service recovers its state folder's dead journals
before it says it is ready, whatever it runs afterwards.
"""

from __future__ import annotations

from pathlib import Path

from entrepot.jobs import Ledger
from entrepot.provenance import Kind, find
from entrepot.provenance.journal import JOURNAL_DIR, Journal
from entrepot.spool import Spool
from tests.integration._service import Service, services_fixture  # noqa: F401

CONFIG = """\
[service]
state = "state"
scan_every = "1s"
grace = "5s"

[spools.quiet]
path = "quiet"
"""


def test_dead_journals_are_recorded_before_the_service_is_ready(
    tmp_path: Path, services: list[Service]
) -> None:
    state = tmp_path / "state"
    Spool(tmp_path / "elsewhere").prepare()
    journal = Journal(state)  # a process that journaled a file's receipt, then died
    with Spool(tmp_path / "elsewhere", provenance=journal) as spool:
        spool.publish_bytes(b"a,b\n", "left.csv")
    journal.close(remove=False)
    assert list((state / JOURNAL_DIR).glob("*.journal"))
    path = tmp_path / "entrepot.toml"
    path.write_text(CONFIG)
    service = Service(path)
    services.append(service)
    service.start()  # nothing of it records: no route, no fetch
    with Ledger.open(state) as ledger:
        events = find(ledger.engine, "left.csv")
    assert [(event.name, event.kind) for event in events] == [("left.csv", Kind.RECEIVED)]
    assert not list((state / JOURNAL_DIR).glob("*.journal"))
    assert service.stop() == 0
