"""``entrepot ship``, ``fetch`` and the backlog commands, in-process, against a real FTP server.

The commands as an operator runs them, in a subprocess, are in
``tests/acceptance`` and ``tests/hostile``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.cli import ExitCode
from entrepot.spool import Spool

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


@pytest.fixture
def outbox(tmp_path: Path) -> Spool:
    spool = Spool(tmp_path / "outbox").prepare()
    for number in range(3):
        spool.publish_bytes(b"row %d\n" % number, f"f{number}.csv")
    return spool


@pytest.fixture
def secret(ftp_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PARTNER_PW", ftp_server.password)
    return "PARTNER_PW"


def test_ship_success_table_and_ledger(
    cli: Any, ftp_server: Any, outbox: Spool, secret: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    code, out, err = cli(
        "ship", outbox.root, ftp_server.url, "--password-env", secret, "--state", state,
        "--protocol", "lock", "--parallel", "2",
    )  # fmt: skip
    assert code == ExitCode.OK, err
    assert "Shipped: 3 files" in out and "f0.csv" in out
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    code, out, _ = cli("jobs", "ls", "--state", state)
    assert code == 0 and "succeeded" in out
    assert ftp_server.password not in out


def test_ship_exit_codes_and_backlog_retry(
    cli: Any,
    ftp_server: Any,
    outbox: Spool,
    secret: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = tmp_path / "state"
    common = ["--state", state, "--max-tries", "1", "--retry-delay", "0"]

    # Wrong password: refused (6), the job waits in the backlog with its reason.
    monkeypatch.setenv("WRONG_PW", "not-it")
    code, _, err = cli("ship", outbox.root, ftp_server.url, "--password-env", "WRONG_PW", *common)
    assert code == ExitCode.REFUSED
    assert "not-it" not in err

    # Locked remote folder: temporary (5).
    (ftp_server.root / "write").write_text("busy")
    code, _, err = cli(
        "ship", outbox.root, ftp_server.url, "--password-env", secret, "--protocol", "lock", *common
    )
    assert code == ExitCode.TEMPORARY
    assert "locked" in err
    (ftp_server.root / "write").unlink()

    # Missing remote folder: not found (4).
    missing = ftp_server.url.rsplit("/", 1)[0] + "/nowhere"
    code, _, _ = cli("ship", outbox.root, missing, "--password-env", secret, *common)
    assert code == ExitCode.NOT_FOUND

    # A password on the command line is refused outright (usage of secrets).
    code, _, err = cli("ship", outbox.root, ftp_server.url, "-o", "password=x", *common)
    assert code == ExitCode.CONFIG

    code, out, _ = cli("backlog", "ls", "--state", state)
    assert code == 0
    assert out.count("ship") >= 3

    # The first job (wrong password variable) is fixed by pointing the variable right.
    monkeypatch.setenv("WRONG_PW", ftp_server.password)
    code, out, err = cli("backlog", "retry", "--all", "--force", "--state", state)
    assert code == ExitCode.FAILED  # the job aimed at the missing folder still fails
    assert "succeeded" in out
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    assert outbox.names("new") == []


def test_fetch_command(cli: Any, ftp_server: Any, secret: str, tmp_path: Path) -> None:
    (ftp_server.root / "in.csv").write_text("a,b\n")
    inbox = tmp_path / "inbox"
    # A spool that does not exist is not made by mistake.
    code, _, err = cli("fetch", ftp_server.url, inbox, "--password-env", secret, "--no-ledger")
    assert code == ExitCode.NOT_FOUND and "spool init" in err
    assert not inbox.exists() and (ftp_server.root / "in.csv").exists()
    code, _, err = cli(
        "fetch", ftp_server.url, inbox, "--password-env", secret, "--no-ledger", "--create"
    )
    assert code == ExitCode.OK, err
    assert (inbox / "new" / "in.csv").read_text() == "a,b\n"
    assert list(ftp_server.root.iterdir()) == []
