"""``entrepot ship`` and ``fetch`` run carelessly or against a hostile setting, in a subprocess.

Issue 10 items covered here (a real FTP server stands in for the partner):

* 8 (jobs part) — a URL carrying a password, in any of the shapes that
  escaped masking (unencoded ``/`` or ``@``, one slash after the scheme, a
  ``password=`` parameter), is refused before anything is stored: exit 3,
  and neither the output, the logs, ``backlog ls`` nor the ledger file ever
  holds the password;
* 16 — ``ship nosuchspool URL`` exits 4 and records nothing;
* 17 — with nothing waiting, a missing ``--password-file``, an unset
  ``--password-env`` or an unknown scheme still fails at once with exit 3,
  and no job is recorded;
* 18 — failing runs of one route (cron, every few minutes) make one backlog
  job, not one each, and ``status`` is back to 0 once the server is;
* 19 — a job keeps the spool's absolute path: ``backlog retry`` from another
  folder ships the file, and never calls a missing spool "empty";
* 21 — ``fetch`` into a full local disk names the local spool, exit 5;
* 31 — ``fetch --protocol marker`` takes only files whose ``.done`` marker is
  there and removes the marker; ``--no-ledger`` never says "the job waits in
  the backlog";
* operator polish — ``-q`` prints errors only, ``--json`` results, ``--dry-run``
  moves nothing and records nothing, ``--conflict`` and
  ``--sweep-partials-after`` work, ``status`` exits 1 only while a job needs
  attention.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.hostile._shipping import entrepot, entrepot_json, ledger_jobs, small_disk

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


@pytest.fixture
def outbox(tmp_path: Path) -> Spool:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"id,amount\n1,9.50\n", "orders.csv")
    return spool


@pytest.fixture
def env(ftp_server: Any) -> dict[str, str]:
    return {"PARTNER_PW": ftp_server.password}


def ship(spool: Path, url: str, state: Path, *more: object, **kwargs: Any) -> Any:
    return entrepot("ship", spool, url, "--state", state, "--max-tries", "1", *more, **kwargs)


def no_jobs(state: Path) -> bool:
    return not (state / "ledger.sqlite3").exists() or ledger_jobs(state) == []


# -- 8 -----------------------------------------------------------------------------------------

HOSTILE_URLS = [
    "ftp://u:SECRET@{host}/in",
    "ftp://u:ab/cdSECRET@{host}/in",
    "ftp://u:123/abcSECRET@{host}/in",
    "ftp://bob:SEC@RETSECRET@{host}/in",
    "ftp:/u:SECRET@{host}/in",
    "ftp://u@{host}/in?password=SECRET",
]


@pytest.mark.parametrize("shape", HOSTILE_URLS)
def test_a_password_in_the_url_is_refused_and_never_stored(
    shape: str, ftp_server: Any, outbox: Spool, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    url = shape.format(host=f"127.0.0.1:{ftp_server.port}")
    done = entrepot("-vv", "ship", outbox.root, url, "--state", state)
    assert done.returncode == 3, done.stderr
    assert "SECRET" not in done.stdout + done.stderr
    assert "password" in done.stderr
    assert no_jobs(state)
    assert not state.exists()  # refused before anything was recorded
    listed = entrepot("backlog", "ls", "--state", state)
    assert listed.returncode == 4 and "no state folder" in listed.stderr
    assert "SECRET" not in listed.stdout + listed.stderr
    assert outbox.names() == ["orders.csv"]


# -- 16, 17 ------------------------------------------------------------------------------------


def test_a_missing_spool_is_exit_4_and_records_nothing(ftp_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = ship(tmp_path / "nosuchspool", ftp_server.url, state)
    assert done.returncode == 4 and "spool init" in done.stderr
    assert no_jobs(state) and not (tmp_path / "nosuchspool").exists()


def test_configuration_errors_fail_at_once_even_with_nothing_waiting(
    ftp_server: Any, tmp_path: Path
) -> None:
    empty = Spool(tmp_path / "empty").prepare().root
    state = tmp_path / "state"
    cases = [
        [ftp_server.url, "--password-file", tmp_path / "no-such-file"],
        [ftp_server.url, "--password-env", "ENTREPOT_TEST_UNSET"],
        [ftp_server.url.replace("ftp://", "sftpp://")],
        [ftp_server.url, "-o", "conflict=skip"],
        [ftp_server.url, "--conflict", "overwrite"],
    ]
    for case in cases:
        os.environ.pop("ENTREPOT_TEST_UNSET", None)
        done = entrepot("ship", empty, *case, "--state", state)
        assert done.returncode == 3, (case, done.stdout, done.stderr)
        assert "nothing waiting" not in done.stdout
    assert no_jobs(state)
    assert "use --conflict" in entrepot("ship", empty, *cases[3], "--state", state).stderr


# -- 18 ----------------------------------------------------------------------------------------


def test_failing_cron_runs_of_one_route_make_one_backlog_job(
    ftp_server: Any, outbox: Spool, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    ftp_server.stop()
    for _ in range(3):
        done = ship(outbox.root, ftp_server.url, state, "--password-env", "PARTNER_PW", env=env)
        assert done.returncode == 5, done.stderr
    [job] = ledger_jobs(state)
    assert (job["state"], job["runs"], job["failures"]) == ("backlog", 3, 3)
    assert entrepot("status", "--state", state).returncode == 1

    # Another route (the same spool to another folder) is another job.
    other = ftp_server.url + "-other"
    ship(outbox.root, other, state, "--password-env", "PARTNER_PW", env=env)
    assert len(ledger_jobs(state)) == 2

    ftp_server.start()
    (ftp_server.root.parent / (ftp_server.folder + "-other")).mkdir()
    for url in (ftp_server.url, other):
        done = ship(outbox.root, url, state, "--password-env", "PARTNER_PW", env=env)
        assert done.returncode == 0, done.stderr
    assert [job["state"] for job in ledger_jobs(state)] == ["succeeded", "succeeded"]
    status = entrepot("status", "--state", state, outbox.root)
    assert status.returncode == 0, status.stdout
    figures = entrepot_json("status", "--state", state, outbox.root)
    assert figures["jobs"]["backlog"] == figures["jobs"]["dead"] == 0
    assert figures["spools"][str(outbox.root)]["cur"]["files"] == 1


# -- 19 ----------------------------------------------------------------------------------------


def test_backlog_retry_from_another_folder_finds_the_spool(
    ftp_server: Any, outbox: Spool, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    ftp_server.stop()
    failed = entrepot(
        "ship", "outbox", ftp_server.url, "--state", state, "--password-env", "PARTNER_PW",
        "--max-tries", "1", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert failed.returncode == 5, failed.stderr
    [job] = ledger_jobs(state)
    assert job["params"]["spool"] == str(outbox.root)
    ftp_server.start()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    retried = entrepot("backlog", "retry", job["id"], "--state", state, cwd=elsewhere, env=env)
    assert retried.returncode == 0, retried.stderr
    assert outbox.names("new") == [] and outbox.names("cur") == ["orders.csv"]
    assert (ftp_server.root / "orders.csv").exists()


def test_a_job_whose_spool_is_gone_fails_instead_of_succeeding_empty(
    ftp_server: Any, outbox: Spool, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    ftp_server.stop()
    ship(outbox.root, ftp_server.url, state, "--password-env", "PARTNER_PW", env=env)
    ftp_server.start()
    outbox.root.rename(tmp_path / "moved-away")
    [job] = ledger_jobs(state)
    retried = entrepot("backlog", "retry", job["id"], "--state", state, env=env)
    assert retried.returncode == 1 and "does not exist" in retried.stderr
    [job] = ledger_jobs(state)
    assert job["state"] == "backlog" and job["last_outcome"] == "failed"


# -- 21 ----------------------------------------------------------------------------------------


def test_fetch_into_a_full_local_disk_blames_the_local_spool(
    ftp_server: Any, env: dict[str, str], tmp_path: Path
) -> None:
    (ftp_server.root / "big.bin").write_bytes(os.urandom(600 * 1024))
    with small_disk(tmp_path / "disk", "256k") as disk:
        inbox = Spool(disk / "inbox").prepare()
        done = entrepot(
            "fetch", ftp_server.url, inbox.root, "--password-env", "PARTNER_PW", "--no-ledger",
            "--max-tries", "1", env=env,
        )  # fmt: skip
        assert done.returncode == 5, done.stderr
        assert "No space left on device in the local spool" in done.stderr
        assert str(inbox.root / "tmp") in done.stderr.replace("\n", "")
        assert ftp_server.folder not in done.stderr  # the remote path is not blamed
        assert os.listdir(inbox.root / "tmp") == [] and inbox.names() == []
    assert (ftp_server.root / "big.bin").exists()


# -- 31 ----------------------------------------------------------------------------------------


def test_fetch_with_markers_takes_marked_files_only_and_removes_their_markers(
    ftp_server: Any, env: dict[str, str], tmp_path: Path
) -> None:
    inbox = Spool(tmp_path / "inbox").prepare()
    (ftp_server.root / "ready.csv").write_text("complete")
    (ftp_server.root / "ready.csv.done").write_text("")
    (ftp_server.root / "writing.csv").write_text("half")
    done = entrepot(
        "fetch", ftp_server.url, inbox.root, "--password-env", "PARTNER_PW", "--protocol",
        "marker", "--no-ledger", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert inbox.names() == ["ready.csv"]
    assert sorted(os.listdir(ftp_server.root)) == ["writing.csv"]


def test_without_a_ledger_a_locked_folder_is_not_said_to_wait_in_the_backlog(
    ftp_server: Any, outbox: Spool, env: dict[str, str]
) -> None:
    (ftp_server.root / "read").write_text("the partner is reading")
    done = entrepot(
        "ship", outbox.root, ftp_server.url, "--password-env", "PARTNER_PW", "--protocol",
        "lock", "--no-ledger", "--max-tries", "1", env=env,
    )  # fmt: skip
    assert done.returncode == 5 and "locked" in done.stderr
    assert "backlog" not in done.stdout + done.stderr


# -- operator polish ---------------------------------------------------------------------------


def test_quiet_json_and_dry_run(
    ftp_server: Any, outbox: Spool, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    common = ["--password-env", "PARTNER_PW", "--state", state]
    plan = entrepot("ship", outbox.root, ftp_server.url, *common, "--dry-run", env=env)
    assert plan.returncode == 0 and "orders.csv" in plan.stdout and "nothing moved" in plan.stdout
    [item] = entrepot_json("ship", outbox.root, ftp_server.url, *common, "-n", env=env)
    assert item["name"] == "orders.csv" and item["to"].endswith("/orders.csv")
    assert os.listdir(ftp_server.root) == [] and outbox.names() == ["orders.csv"]
    assert no_jobs(state)

    quiet = entrepot("-q", "ship", outbox.root, ftp_server.url, *common, env=env)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    nothing = entrepot("-q", "ship", outbox.root, ftp_server.url, *common, env=env)
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "", "")
    outbox.publish_bytes(b"more", "more.csv")
    result = entrepot_json("-q", "ship", outbox.root, ftp_server.url, *common, env=env)
    assert (result["outcome"], result["files"], result["exit_code"]) == (
        "succeeded",
        ["more.csv"],
        0,
    )
    assert json.loads(entrepot("-q", "jobs", "ls", "--state", state, "--json").stdout)
    assert entrepot("-q", "jobs", "ls", "--state", state).stdout == ""
    assert entrepot("-q", "backlog", "ls", "--state", state).stdout == ""

    remote = sorted(os.listdir(ftp_server.root))
    inbox = Spool(tmp_path / "inbox").prepare()
    fetch_plan = entrepot_json("fetch", ftp_server.url, inbox.root, *common, "--dry-run", env=env)
    assert sorted(item["name"] for item in fetch_plan) == remote
    assert sorted(os.listdir(ftp_server.root)) == remote and inbox.names() == []


def test_conflict_and_sweep_options(
    ftp_server: Any, outbox: Spool, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    common = ["--password-env", "PARTNER_PW", "--state", state]
    (ftp_server.root / "orders.csv").write_text("someone else's")
    stale = ftp_server.root / ".orders.csv.0badc0de.partial"
    stale.write_text("left by a run that died")
    old = time.time() - 600
    os.utime(stale, (old, old))
    refused = entrepot("ship", outbox.root, ftp_server.url, *common, "--conflict", "fail", env=env)
    assert refused.returncode == 6, refused.stderr
    assert (ftp_server.root / "orders.csv").read_text() == "someone else's"
    renamed = entrepot(
        "ship", outbox.root, ftp_server.url, *common, "--conflict", "rename",
        "--sweep-partials-after", "5m", env=env,
    )  # fmt: skip
    assert renamed.returncode == 0, renamed.stderr
    assert sorted(os.listdir(ftp_server.root)) == ["orders-1.csv", "orders.csv"]
