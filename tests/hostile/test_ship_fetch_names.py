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
