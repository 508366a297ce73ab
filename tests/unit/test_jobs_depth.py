"""The backlog's depth sampled per hour (issue 15, the overview's chart): the deepest figures of
each hour are kept, read back by hour, pruned with the ledger's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from entrepot.jobs import FakeClock, JobState, Ledger
from entrepot.jobs.depth import depth_history, hour_of, record_depth

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_each_hour_keeps_its_deepest_backlog(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, clock=FakeClock(T0)) as ledger:
        for number in range(3):
            ledger.add_job(f"j{number}", "scripted", {}, state=JobState.BACKLOG)
        ledger.add_job("dead", "scripted", {}, state=JobState.DEAD)
        assert record_depth(ledger.engine, ledger.rows, T0) == (3, 1)
        ledger.set_state("j0", JobState.DROPPED, reason="gone", from_states=[JobState.BACKLOG])
        assert record_depth(ledger.engine, ledger.rows, T0 + timedelta(minutes=30)) == (2, 1)
        assert record_depth(ledger.engine, ledger.rows, T0 + timedelta(hours=1)) == (2, 1)
        first = hour_of(T0)
        assert depth_history(ledger.rows, first) == {first: (3, 1), first + 1: (2, 1)}
        assert depth_history(ledger.rows, first + 1) == {first + 1: (2, 1)}
        ledger.prune(T0 + timedelta(hours=1))
        assert depth_history(ledger.rows, 0) == {first + 1: (2, 1)}
