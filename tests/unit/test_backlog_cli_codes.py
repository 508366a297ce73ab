"""``entrepot backlog``: exit codes that tell a script what happened, and a bounded listing.

What was wrong:

* ``backlog retry PREFIX`` / ``drop PREFIX`` with a prefix that more than
  one job's id starts with exited 4 (not found), although the job was found
  — too many times: the command line was the mistake;
* ``backlog retry ID`` / ``drop ID`` of a job being run right now (by
  ``serve``) exited 1 (failed), although nothing failed: the job is busy;
* ``backlog ls`` drew every waiting job as a table: 10 s for 10,000 jobs.

What is expected now: an ambiguous prefix exits 2 and asks for more of the
id; a job being run exits 5 (temporary: try again once its run has ended)
and is left as it is; ``backlog ls`` draws the 50 soonest due (``--limit``
says otherwise) and tells how many more there are, while ``--json`` lists
them all unless ``--limit`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger
from tests.hostile._shipping import entrepot


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    with Ledger.open(folder) as ledger:
        for n in range(3):
            ledger.add_job(f"2026010{n}-job", "noop", {}, state=JobState.BACKLOG)
        ledger.add_job("20270101-busy", "noop", {}, state=JobState.PENDING)
        assert ledger.start_run("20270101-busy", trigger="new", claim_from=[JobState.PENDING])
    return folder


@pytest.mark.parametrize("command", [["retry"], ["drop", "--reason", "gone"]])
def test_an_ambiguous_prefix_is_a_usage_mistake(state: Path, command: list[str]) -> None:
    done = entrepot("backlog", command[0], "2026", *command[1:], "--state", state)
    assert done.returncode == 2, done.stderr
    assert "more than one job" in done.stderr
    done = entrepot("backlog", command[0], "nothing-like-it", *command[1:], "--state", state)
    assert done.returncode == 4, done.stderr


@pytest.mark.parametrize("command", [["retry"], ["drop", "--reason", "gone"]])
def test_a_job_being_run_now_is_refused_for_now(state: Path, command: list[str]) -> None:
    done = entrepot("backlog", command[0], "2027", *command[1:], "--state", state)
    assert done.returncode == 5, done.stderr
    assert "is being run now" in done.stderr
    with Ledger.open(state) as ledger:
        assert ledger.get("20270101-busy").state == JobState.RUNNING


def test_a_job_that_cannot_be_dropped_for_good_still_exits_1(state: Path) -> None:
    with Ledger.open(state) as ledger:
        ledger.set_state("20260100-job", JobState.SUCCEEDED)
    done = entrepot("backlog", "drop", "20260100", "--reason", "x", "--state", state)
    assert done.returncode == 1, done.stderr


def test_backlog_ls_draws_the_soonest_and_tells_how_many_more(state: Path) -> None:
    done = entrepot("backlog", "ls", "--limit", "2", "--state", state)
    assert done.returncode == 0, done.stderr
    assert "backlog — 3 jobs" in done.stdout  # the job being run is not waiting
    assert sum("-job" in line for line in done.stdout.splitlines()) == 2
    assert "… and 1 more" in done.stderr
    listed = json.loads(entrepot("backlog", "ls", "--json", "--state", state).stdout)
    assert len(listed) == 3
    listed = json.loads(entrepot("backlog", "ls", "--json", "-n", "1", "--state", state).stdout)
    assert len(listed) == 1
    everything = entrepot("backlog", "ls", "--state", state)
    assert "more" not in everything.stderr
