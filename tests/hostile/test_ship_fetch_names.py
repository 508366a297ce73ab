"""``entrepot fetch`` from a remote folder holding names that can never be spool entries.

Issue 10 item 23 (fetch part): a hostile remote name once made ``fetch`` exit
2 ("usage") and the job fail on every retry.  Such names are skipped and
reported; the other files are fetched; the command exits 7 (invalid data);
the job does not wait in the backlog, since a retry could not do better.
Run against an FTP server (pyftpdlib lists every name as it is on disk) and a
``file://`` folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrepot.cli.exitcodes import ExitCode
from tests.hostile._shipping import entrepot, ledger_jobs

# A line break cannot even be listed over FTP (the listing splits there).
HOSTILE = {"file": ["bad\nname.csv", "esc\x1b[2Jape.csv", ".hidden.csv"],
           "ftp": ["esc\x1b[2Jape.csv", ".hidden.csv", "del\x7f.csv"]}  # fmt: skip


def _remote(folder: Path, hostile: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / "good.csv").write_bytes(b"id\n1\n")
    for name in hostile:
        (folder / name).write_bytes(b"x")


@pytest.mark.parametrize("where", ["file", "ftp"])
def test_hostile_remote_names_are_skipped_and_reported(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if where == "ftp":
        server: Any = request.getfixturevalue("ftp_server")
        folder, url = server.root, server.url
        env = {"FTP_PW": server.password}
        secret = ("--password-env", "FTP_PW")
    else:
        folder = tmp_path / "remote"
        url, env, secret = f"file://{folder}", {}, ()
    hostile = HOSTILE[where]
    _remote(folder, hostile)
    state = tmp_path / "state"
    spool = tmp_path / "inbox"
    done = entrepot("fetch", url, spool, "--create", "--state", state, *secret, env=env)
    assert done.returncode == ExitCode.DATA, done.stderr
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["good.csv"]
    # Skipped names stay where they are, and are shown escaped.
    assert sorted(p.name for p in folder.iterdir()) == sorted(hostile)
    assert "\x1b" not in done.stdout + done.stderr
    assert "esc\\x1b[2Jape.csv" in done.stdout
    # Nothing waits in the backlog: a retry could not fetch them either.
    assert [job["state"] for job in ledger_jobs(state)] == ["succeeded"]
    again = entrepot("fetch", url, spool, "--state", state, "--json", *secret, env=env)
    assert again.returncode == ExitCode.DATA
    result = json.loads(again.stdout)
    assert sorted(result["skipped"]) == sorted(hostile) and result["files"] == []
    assert all(job["state"] != "backlog" for job in ledger_jobs(state))


def test_names_no_spool_entry_may_have_are_skipped_when_shipping(tmp_path: Path) -> None:
    """Another program put them into new/: a control character, a name so long that its
    claim's name would pass the file system's limit.  They used to fail the whole run on
    every retry, the good files behind them never shipped."""
    spool, dest, state = tmp_path / "outbox", tmp_path / "dest", tmp_path / "state"
    entrepot("spool", "init", spool)
    dest.mkdir()
    hostile = ["a\x01bad.csv", "c" * 250 + ".csv"]
    for name in [*hostile, "good.csv", "zz.csv"]:
        (spool / "new" / name).write_bytes(b"x")
    done = entrepot("ship", spool, dest.as_uri(), "--state", state, "--json")
    assert done.returncode == ExitCode.DATA, done.stderr
    result = json.loads(done.stdout)
    assert sorted(result["skipped"]) == sorted(hostile)
    assert "longer than the file system allows" in result["skipped"][hostile[1]]
    assert sorted(p.name for p in dest.iterdir()) == ["good.csv", "zz.csv"]
    assert sorted(p.name for p in (spool / "new").iterdir()) == sorted(hostile)
    assert [job["state"] for job in ledger_jobs(state)] == ["succeeded"]  # none to retry
    (spool / "new" / "more.csv").write_bytes(b"x")
    told = entrepot("ship", spool, dest.as_uri(), "--state", state)
    assert told.returncode == ExitCode.DATA
    assert "Shipped: 1 files, 1 B; 0 failed; 2 skipped; job" in told.stdout


def test_a_name_that_is_not_utf8_is_skipped_in_a_spool_with_history(tmp_path: Path) -> None:
    """Its look-up in the ledger (the files' earlier failures and receipts, asked once the
    spool has a history: here a file fetched into it) failed the whole run with
    "surrogates not allowed", every run: the files beside it never shipped.  It is
    skipped and reported like other names."""
    spool, dest, state = tmp_path / "outbox", tmp_path / "dest", tmp_path / "state"
    source = tmp_path / "source"
    entrepot("spool", "init", spool)
    dest.mkdir()
    source.mkdir()
    (source / "first.csv").write_bytes(b"1")
    assert entrepot("fetch", source.as_uri(), spool, "--state", state).returncode == ExitCode.OK
    assert entrepot("ship", spool, dest.as_uri(), "--state", state).returncode == ExitCode.OK
    with open(bytes(spool / "new") + b"/bad\xff.csv", "wb") as bad:
        bad.write(b"x")
    (spool / "new" / "good.csv").write_bytes(b"2")
    done = entrepot("ship", spool, dest.as_uri(), "--state", state, "--json")
    assert done.returncode == ExitCode.DATA, done.stderr
    assert list(json.loads(done.stdout)["skipped"]) == ["bad\udcff.csv"]
    assert sorted(p.name for p in dest.iterdir()) == ["first.csv", "good.csv"]
    assert [job["state"] for job in ledger_jobs(state)][-2:] == ["succeeded", "succeeded"]
