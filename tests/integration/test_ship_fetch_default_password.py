"""``ship`` and ``fetch`` take the password from ``ENTREPOT_PASSWORD``, as ``ls`` and ``put`` do.

They used to ignore the variable: they logged in with an empty password, were
refused (exit 6) and left the job in the backlog.  Now every form of the two
commands — a URL, a configured target's name, a configured route alone —
follows the one rule of :mod:`entrepot.cli.connecting`: when nothing else
names a password, the variable is used *by reference*.  The job keeps the
variable's name, never its value (not in the ledger, not in the output, not
in ``-vv`` logs, not in ``--json``), and a retry from the backlog reads it
again: right, it succeeds; unset, it fails saying which variable is missing.
A password named otherwise (``password_env`` in the configuration) wins over
the variable.  Run as an operator runs them, in subprocesses, against the
real FTP and FTPS servers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.integration.test_names_cli import entrepot, jobs, ledger_text

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]

CONFIG = """
[service]
state = "state"

[targets.partner]
url = "{url}"
{source}

[spools.outbox]
path = "outbox"

[spools.inbox]
path = "inbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "5m"
"""


def outbox(site: Path) -> Spool:
    spool = Spool(site / "outbox").prepare()
    for number in range(3):
        spool.publish_bytes(b"row %d\n" % number, f"f{number}.csv")
    return spool


def stored_bytes(state: Path) -> bytes:
    """Every byte of every file in the state folder (the ledger, its journal, its WAL)."""
    return b"".join(path.read_bytes() for path in sorted(state.rglob("*")) if path.is_file())


def assert_nowhere(password: str, state: Path, *outputs: str) -> None:
    """``password`` is in no output and in no stored byte, whatever its encoding."""
    assert password not in "".join(outputs)
    raw = stored_bytes(state)
    for form in (password, json.dumps(password)[1:-1], json.dumps(password, ensure_ascii=False)):
        assert form.encode("utf-8") not in raw, form
    assert password not in ledger_text(state)


def jobs_in(state: Path, cwd: Path) -> list[dict[str, Any]]:
    listed = entrepot("jobs", "ls", "--json", "--state", state, cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, Any]] = json.loads(listed.stdout)
    return found


def test_ship_and_fetch_of_a_url_log_in_with_the_variable(ftps_server: Any, tmp_path: Path) -> None:
    """FTPS with no password source but ``$ENTREPOT_PASSWORD``: shipped, then fetched back."""
    spool, state = outbox(tmp_path), tmp_path / "state"
    trust = ["-o", f"ca_file={ftps_server.ca_file}"]
    env = {"ENTREPOT_PASSWORD": ftps_server.password}
    shipped = entrepot("-vv", "ship", spool.root, ftps_server.url, *trust, "--max-tries", "1",
                       "--state", state, "--json", cwd=tmp_path, **env)  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    assert json.loads(shipped.stdout)["outcome"] == "succeeded"
    assert sorted(p.name for p in ftps_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    inbox = tmp_path / "inbox"
    fetched = entrepot("-vv", "fetch", ftps_server.url, inbox, "--create", *trust, "--max-tries",
                       "1", "--state", state, "--json", cwd=tmp_path, **env)  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(p.name for p in (inbox / "new").iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    stored = [job["params"]["target_options"] for job in jobs_in(state, tmp_path)]
    assert stored == [{"ca_file": ftps_server.ca_file, "password_env": "ENTREPOT_PASSWORD"}] * 2
    outputs = (shipped.stdout, shipped.stderr, fetched.stdout, fetched.stderr)
    assert_nowhere(ftps_server.password, state, *outputs)


def test_a_job_in_the_backlog_reads_the_variable_again_when_retried(
    ftp_server: Any, tmp_path: Path
) -> None:
    spool, state = outbox(tmp_path), tmp_path / "state"
    wrong = "Wrong-Pässword-7"
    failed = entrepot("ship", spool.root, ftp_server.url, "--max-tries", "1", "--state", state,
                      cwd=tmp_path, ENTREPOT_PASSWORD=wrong)  # fmt: skip
    assert failed.returncode == 6, failed.stderr
    # Unset when the job runs again: it says which variable it misses, and keeps waiting.
    unset = entrepot("backlog", "retry", "--all", "--force", "--state", state, cwd=tmp_path)
    assert unset.returncode == 3, unset.stderr
    assert "environment variable 'ENTREPOT_PASSWORD' is not set" in unset.stderr
    [job] = jobs_in(state, tmp_path)
    assert job["state"] == "backlog"
    assert spool.names("new") == ["f0.csv", "f1.csv", "f2.csv"]
    # Set right: the same job now delivers.
    retried = entrepot("backlog", "retry", "--all", "--force", "--state", state, cwd=tmp_path,
                       ENTREPOT_PASSWORD=ftp_server.password)  # fmt: skip
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    outputs = (failed.stderr, unset.stdout, unset.stderr, retried.stdout, retried.stderr)
    assert_nowhere(ftp_server.password, state, *outputs)
    assert_nowhere(wrong, state, *outputs)


def test_configured_names_without_a_password_source_take_the_variable(
    ftp_server: Any, tmp_path: Path
) -> None:
    config = tmp_path / "entrepot.toml"
    config.write_text(CONFIG.format(url=ftp_server.url, source=""))
    outbox(tmp_path)
    Spool(tmp_path / "inbox").prepare()
    env = {"ENTREPOT_PASSWORD": ftp_server.password, "ENTREPOT_CONFIG": str(config)}
    shipped = entrepot("ship", "to-partner", "--max-tries", "1", cwd=tmp_path, **env)
    assert shipped.returncode == 0, shipped.stderr
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    fetched = entrepot("fetch", "partner", "inbox", "--max-tries", "1", cwd=tmp_path, **env)
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(p.name for p in (tmp_path / "inbox" / "new").iterdir()) == [
        "f0.csv",
        "f1.csv",
        "f2.csv",
    ]
    # Kept by reference in the job and in its origin, so a retry reads it again.
    for job in jobs(tmp_path):
        assert job["params"]["target_options"] == {"password_env": "ENTREPOT_PASSWORD"}
        assert job["params"]["origin"]["options"] == {"password_env": "ENTREPOT_PASSWORD"}
    assert_nowhere(ftp_server.password, tmp_path / "state", shipped.stderr, fetched.stderr)


def test_a_configured_password_source_wins_over_the_variable(
    ftp_server: Any, tmp_path: Path
) -> None:
    config = tmp_path / "entrepot.toml"
    config.write_text(CONFIG.format(url=ftp_server.url, source='password_env = "PARTNER_PW"'))
    outbox(tmp_path)
    env = {"ENTREPOT_CONFIG": str(config), "PARTNER_PW": ftp_server.password}
    shipped = entrepot("ship", "outbox", "partner", "--max-tries", "1", cwd=tmp_path,
                       ENTREPOT_PASSWORD="not-the-password", **env)  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    [job] = jobs(tmp_path)
    assert job["params"]["target_options"] == {"password_env": "PARTNER_PW"}
    assert "options" not in job["params"]["origin"]
