"""Two processes under one instance name: what a heartbeat renews, and who may start.

What was wrong: a heartbeat renewed, by name, every claim and job lease of
its instance taken since it started, so a process that shared its name with
another kept the other's claims and jobs alive for ever once that one was
killed (its work never taken over); and nothing stopped a second live
process from starting under a name in use.

What is expected now: a heartbeat renews only what its own process took
(claims by the process mark their tokens start with, jobs by the host and
PID of their current run); :meth:`FleetLog.twin` finds another live process
of the name, and a name whose process stopped cleanly, went silent, or is
gone (on this host) is free.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from entrepot.jobs import FakeClock, Ledger
from entrepot.jobs.fleet import instances_table

DEAD_TWIN = """
from entrepot.jobs import JobState, Ledger
ledger = Ledger({url!r}, instance="twin", lease=2)
ledger.claim_key("object", "k", lease=2)
ledger.add_job("j1", "copy", {{}}, shared=True)
ledger.start_run("j1", trigger="due", claim_from=[JobState.PENDING])
"""


def test_a_heartbeat_keeps_alive_only_what_its_own_process_took(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.sqlite3'}"
    with Ledger(url, instance="twin", lease=2) as alive:
        started = alive.clock.now()
        # Another process of the same name claims a key and runs a job, then dies.
        script = textwrap.dedent(DEAD_TWIN.format(url=url))
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        deadline = time.monotonic() + 4  # twice the lease
        while time.monotonic() < deadline:
            alive.beat(started_at=started, generation=1, every=0.3, lease=2, report={})
            time.sleep(0.3)
        with Ledger(url, instance="beta", lease=2) as other:
            assert other.claim_key("object", "k", lease=2) is not None  # lapsed: taken over
            assert other.recover_expired() == ["j1"]


def _row(ledger: Ledger, **values: object) -> None:
    row = {"name": "twin", "host": "elsewhere", "pid": 4242, "version": "0", "generation": 1,
           "started_at": ledger.clock.now(), "beat_at": ledger.clock.now(), "every": 10.0,
           "stopped_at": None, "report": {}}  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(instances_table))
        conn.execute(instances_table.insert().values(**{**row, **values}))


def test_a_name_is_taken_while_another_process_beats_under_it(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    url = f"sqlite:///{tmp_path / 'fleet.sqlite3'}"
    with Ledger(url, clock=clock, instance="twin") as ledger:
        assert ledger.twin(3) is None  # never heard of
        _row(ledger)
        found = ledger.twin(3)
        assert found is not None and (found.host, found.pid) == ("elsewhere", 4242)
        _row(ledger, beat_at=clock.now() - timedelta(seconds=31))
        assert ledger.twin(3) is None  # silent for three of its beats
        _row(ledger, stopped_at=clock.now())
        assert ledger.twin(3) is None  # stopped cleanly
        _row(ledger, host=ledger._host, pid=2**22 + 7)  # this host, a PID that is no process
        assert ledger.twin(3) is None
