"""``entrepot jobs`` and ``entrepot backlog``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state folder with one succeeded job, one in the backlog and one dead."""
    folder = tmp_path / "state"
    with Ledger.open(folder) as ledger:
        runner = Runner(ledger, policy=RetryPolicy.never())
        runner.run(ScriptedJob(items=3, item_bytes=2048, label="good"), job_id="20260101-good")
        runner.run(ScriptedJob(fail={"send": ["permanent"]}, label="bad"), job_id="20260102-bad")
        ledger.add_job("20260103-dead", "scripted", {"items": 1}, state=JobState.DEAD)
    return folder


def test_jobs_ls_lists_newest_first_with_a_state_filter(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("jobs", "ls", "--state", state)
    assert code == 0
    assert "3 jobs" in out
    lines = [line for line in out.splitlines() if "2026010" in line]
    assert [line.split()[1] for line in lines] == ["20260103-dead", "20260102-bad", "20260101-good"]
    assert "6.0 KiB" in out  # 3 items of 2 KiB, as reported by send
    code, out, _ = cli("jobs", "ls", "--state", state, "--status", "backlog", "-s", "dead")
    assert "20260101-good" not in out and "20260102-bad" in out and "20260103-dead" in out


def test_jobs_ls_json(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = cli("jobs", "ls", "--state", state, "--json", "--status", "backlog")
    [job] = json.loads(out)
    assert job["id"] == "20260102-bad"
    assert (job["last_code"], job["last_step"]) == (300, "send")
    assert job["params"]["fail"] == {"send": ["permanent"]}


def test_an_unknown_state_is_a_usage_error(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("jobs", "ls", "--state", state, "--status", "lost")
    assert code == 2
    assert "succeeded" in err


def test_jobs_show_by_prefix(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("jobs", "show", "20260102", "--state", state)
    assert code == 0
    assert "20260102-bad" in out
    assert "[300] send failed: scripted permanent failure in send" in out
    assert "1. send: AuthenticationFailed: scripted permanent failure in send" in out
    code, out, _ = cli("jobs", "show", "20260101-good", "--state", state, "--json")
    detail = json.loads(out)
    assert detail["state"] == "succeeded" and detail["run_list"][0]["items"] == 3


def test_unknown_or_ambiguous_ids_are_not_found(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("jobs", "show", "nope", "--state", state)[0] == 4
    code, _, err = cli("jobs", "show", "2026", "--state", state)
    assert code == 2 and "more than one" in err  # a usage mistake: give more of the id
    # An empty id names no job — not the only one a ledger holds, which it would match.
    alone = state.parent / "alone"
    with Ledger.open(alone) as ledger:
        ledger.add_job("20260104-only", "scripted", {"items": 1}, state=JobState.DEAD)
    for command in (["jobs", "show", ""], ["backlog", "retry", " "],
                    ["backlog", "drop", "", "--reason", "x"]):  # fmt: skip
        code, _, err = cli(*command, "--state", alone)
        assert code == 2 and "a job id cannot be empty" in err, command
    with Ledger.open(alone) as ledger:
        assert ledger.get("20260104-only").state is JobState.DEAD


def test_backlog_ls_shows_waiting_then_dead(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("backlog", "ls", "--state", state)
    assert code == 0 and "backlog — 2 jobs" in out
    assert out.index("20260102-bad") < out.index("20260103-dead")
    assert "20260101-good" not in out


def test_backlog_retry_one_job(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("backlog", "retry", "20260103-dead", "--state", state)
    assert code == 0 and "succeeded" in out
    code, out, _ = cli("backlog", "retry", "20260102-bad", "--state", state)
    assert code == 1 and "failed" in out  # the scripted failure happens again
    with Ledger.open(state) as ledger:
        assert ledger.get("20260103-dead").state == JobState.SUCCEEDED
        assert [r.trigger for r in ledger.runs("20260102-bad")] == ["new", "retry"]


def test_backlog_retry_all(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("backlog", "retry", "--all", "--state", state)
    assert code == 0 and "no job to re-run" in err  # the failed one is not due yet
    code, out, _ = cli("backlog", "retry", "--all", "--force", "--state", state)
    assert code == 1 and "1 jobs re-run" in out and "20260102-bad" in out


def test_backlog_retry_needs_an_id_or_all(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("backlog", "retry", "--state", state)[0] == 2
    assert cli("backlog", "retry", "x", "--all", "--state", state)[0] == 2
    assert cli("backlog", "retry", "x", "--force", "--state", state)[0] == 2


def test_backlog_drop_needs_a_reason_and_keeps_it(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("backlog", "drop", "20260102-bad", "--state", state)[0] == 2
    assert cli("backlog", "drop", "20260102-bad", "--reason", " ", "--state", state)[0] == 2
    code, out, _ = cli("backlog", "drop", "20260102-bad", "--reason", "obsolete", "--state", state)
    assert code == 0 and "dropped 20260102-bad: obsolete" in out
    code, out, _ = cli("jobs", "ls", "--status", "dropped", "--state", state)
    assert "20260102-bad" in out and "obsolete" in out
    code, _, err = cli("backlog", "drop", "20260101-good", "--reason", "x", "--state", state)
    assert code == 1 and "succeeded" in err


def test_state_folder_from_the_environment(cli, state: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ENTREPOT_STATE_DIR", str(state))
    code, out, _ = cli("jobs", "ls")
    assert code == 0 and "3 jobs" in out


def test_default_state_folder(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ENTREPOT_STATE_DIR", raising=False)
    monkeypatch.delenv("ENTREPOT_LEDGER_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, _ = cli("backlog", "ls")
    assert code == 0 and "0 jobs" in out
    assert (tmp_path / ".local" / "state" / "entrepot" / "ledger.sqlite3").is_file()


def test_ledger_url_option(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{state / 'ledger.sqlite3'}"
    code, out, _ = cli("jobs", "ls", "--ledger", url)
    assert code == 0 and "3 jobs" in out


def test_backlog_retry_parks_dead_after_max_runs(cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, _ = cli("backlog", "retry", "20260102-bad", "--max-runs", "2", "--state", state)
    assert code == 1
    with Ledger.open(state) as ledger:
        job = ledger.get("20260102-bad")
    assert (job.state, job.reason) == (JobState.DEAD, "failed 2 runs in a row")
    assert cli("backlog", "retry", "x", "--max-runs", "0", "--state", state)[0] == 2
