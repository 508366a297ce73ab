"""A ship run's items: the files it delivered, also those that arrived after it counted."""

from __future__ import annotations

import uuid
from pathlib import Path

from entrepot.jobs import FakeClock, JobContext, Ledger, Outcome, Runner
from entrepot.ship import ShipJob
from entrepot.spool import Spool
from tests.unit.test_ship_memory import remote


class _ArrivesMeanwhile(ShipJob):
    """A file published between the run's count (produce) and its send."""

    def produce(self, ctx: JobContext) -> int:
        counted = super().produce(ctx)
        Spool(self.spool_path).publish_bytes(b"late", "late.csv")
        return counted


def test_a_file_that_arrives_during_the_run_is_delivered_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"early", "early.csv")
    url = f"memory://items-{uuid.uuid4().hex[:8]}/drop"
    with Ledger.open(tmp_path / "state", clock=FakeClock()) as ledger:
        job = _ArrivesMeanwhile(spool.root, url)
        result = Runner(ledger).run(job)
        assert (result.outcome, result.items) == (Outcome.SUCCEEDED, 2)
        assert sorted(remote(url)) == ["early.csv", "late.csv"]
        [run] = ledger.runs(result.job_id)
        assert run.items == 2
        # The same job object run again counts its own deliveries, not the first run's too.
        spool.publish_bytes(b"next", "next.csv")
        again = Runner(ledger).run(job)
        assert (again.outcome, again.items) == (Outcome.SUCCEEDED, 2)
        assert sorted(remote(url)) == ["early.csv", "late.csv", "next.csv"]
