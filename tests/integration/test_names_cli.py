"""Configured names in the one-shot commands, run as an operator runs them (subprocesses).

Issue 13, Configuration: ``entrepot ship outbox partner`` (and
``partner/sub`` for a folder below it), ``ship ROUTE``,
``ls``/``check``/``put``/``get`` with a target's name, ``backlog retry``
rebuilding a job from its route's name and the command line's options (a
password source by its name only) — against real FTP, SFTP and S3
servers, with the password only in the variable named by ``password_env``:
never in an output, never in the ledger.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs.summary import ledger_file
from entrepot.service.loading import load_config
from entrepot.service.status import route_identity
from entrepot.spool import Spool

pytestmark = pytest.mark.server

CONFIG = """
[service]
state = "state"

[targets.partner]
url = "{url}"
password_env = "{variable}"
options = {{ timeout = 30 }}

[spools.outbox]
path = "spools/outbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "5m"
parallel = 2
conflict = "rename"
"""


def entrepot(*args: object, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``entrepot ARGS`` in ``cwd``, with no configuration or state of the machine's user."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")}
    clean["XDG_CONFIG_HOME"] = str(cwd / "no-xdg")
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, "COLUMNS": "200", **env},
        check=False,
    )


def write_config(folder: Path, url: str, variable: str = "PARTNER_PW", extra: str = "") -> Path:
    file = folder / "entrepot.toml"
    text = CONFIG.format(url=url, variable=variable)
    file.write_text(text + extra)
    return file


def ledger_text(state: Path) -> str:
    """Every value of every row of every table of the SQLite ledger, as one text."""
    with sqlite3.connect(ledger_file(state)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}")
        )


def jobs(site: Path) -> list[dict[str, Any]]:
    done = entrepot("jobs", "ls", "--json", cwd=site, ENTREPOT_CONFIG=str(site / "entrepot.toml"))
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout)
    return listed


@pytest.fixture
def site(tmp_path: Path, ftp_server: Any) -> Path:
    """A configured FTP target ``partner``, a spool ``outbox`` with three files, a route."""
    write_config(tmp_path, ftp_server.url)
    outbox = Spool(tmp_path / "spools" / "outbox").prepare()
    for number in range(3):
        outbox.publish_bytes(b"row %d\n" % number, f"f{number}.csv")
    return tmp_path


@pytest.mark.xdist_group("ftp")
def test_ship_spool_to_target_by_name_keeps_the_password_out_of_ledger_and_output(
    site: Path, ftp_server: Any
) -> None:
    config = site / "entrepot.toml"
    done = entrepot("ship", "outbox", "partner", "--config", config, cwd=site,
                    PARTNER_PW=ftp_server.password)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    assert ftp_server.password not in done.stdout + done.stderr
    # Recorded in the configuration's ledger, under the names it was made from.
    stored = ledger_text(site / "state")
    assert "ship outbox partner" in stored and ftp_server.password not in stored
    [job] = jobs(site)
    assert (job["name"], job["state"]) == ("ship outbox partner", "succeeded")
    origin = {"config": str(config), "target": "partner", "spool": "outbox"}
    assert job["params"]["origin"] == origin
    assert job["params"]["target_options"]["password_env"] == "PARTNER_PW"


@pytest.mark.xdist_group("ftp")
def test_ship_route_alone_is_the_route_job_and_retry_rebuilds_it_from_the_current_config(
    site: Path, ftp_server: Any
) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml")}
    # A wrong password: refused (6), the route's job waits in the backlog.
    failed = entrepot("ship", "to-partner", "--max-tries", "1", cwd=site, PARTNER_PW="old", **env)
    assert failed.returncode == 6, failed.stderr
    [job] = jobs(site)
    assert (job["name"], job["state"]) == ("ship to-partner", "backlog")
    config = load_config(site / "entrepot.toml")
    with sqlite3.connect(ledger_file(site / "state")) as db:
        [(identity,)] = db.execute("SELECT identity FROM entrepot_jobs").fetchall()
    assert identity == route_identity(config, "ship", "to-partner")
    # The password is rotated into another variable, which the file now names:
    # the retry rebuilds the job from the route's name, so it uses the new one.
    write_config(site, ftp_server.url, variable="ROTATED_PW")
    retried = entrepot("backlog", "retry", job["id"], cwd=site,
                       ROTATED_PW=ftp_server.password, **env)  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    # Another run of the route joins the same job: one job per route.
    again = entrepot("ship", "to-partner", cwd=site, ROTATED_PW=ftp_server.password, **env)
    assert again.returncode == 0, again.stderr
    [job] = jobs(site)
    assert job["state"] == "succeeded"
    everything = failed.stderr + retried.stdout + retried.stderr + ledger_text(site / "state")
    assert ftp_server.password not in everything


@pytest.mark.xdist_group("ftp")
def test_ship_route_with_command_line_options_is_retried_with_the_same_options(
    site: Path, ftp_server: Any
) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml")}
    # The password comes from another variable for this run, and it is wrong.
    failed = entrepot("ship", "to-partner", "--password-env", "OTHER_PW", "--max-tries", "1",
                      "--parallel", "1", cwd=site, OTHER_PW="wrong",
                      PARTNER_PW=ftp_server.password, **env)  # fmt: skip
    assert failed.returncode == 6, failed.stderr
    [job] = jobs(site)
    assert (job["name"], job["state"]) == ("ship to-partner", "backlog")
    assert job["params"]["origin"] == {
        "config": str(site / "entrepot.toml"),
        "route": "to-partner",
        "options": {"password_env": "OTHER_PW"},
        "shipping": {"parallel": 1},
        "max_tries": 1,
    }
    # The retry reads the variable the command line named — set right now —
    # not the route's, which is wrong now: the command line's options hold.
    retried = entrepot("backlog", "retry", job["id"], cwd=site, OTHER_PW=ftp_server.password,
                       PARTNER_PW="wrong", **env)  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert sorted(p.name for p in ftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    [job] = jobs(site)
    assert job["state"] == "succeeded" and job["params"]["options"]["parallel"] == 1
    with sqlite3.connect(ledger_file(site / "state")) as db:
        [(identity,)] = db.execute("SELECT identity FROM entrepot_jobs").fetchall()
    assert identity == route_identity(load_config(site / "entrepot.toml"), "ship", "to-partner")
    assert ftp_server.password not in ledger_text(site / "state")


@pytest.mark.xdist_group("ftp")
def test_ship_to_a_sub_folder_of_a_named_target_and_retry_it_there(
    site: Path, ftp_server: Any
) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml")}
    (ftp_server.root / "sub").mkdir()
    failed = entrepot("ship", "outbox", "partner/sub", "--max-tries", "1", cwd=site,
                      PARTNER_PW="wrong", **env)  # fmt: skip
    assert failed.returncode == 6, failed.stderr
    [job] = jobs(site)
    assert (job["name"], job["state"]) == ("ship outbox partner/sub", "backlog")
    assert job["params"]["origin"]["folder"] == "sub"
    assert job["params"]["url"] == f"{ftp_server.url}/sub"
    retried = entrepot("backlog", "retry", job["id"], cwd=site, PARTNER_PW=ftp_server.password,
                       **env)  # fmt: skip
    assert retried.returncode == 0, retried.stderr
    assert sorted(p.name for p in (ftp_server.root / "sub").iterdir()) == [
        "f0.csv",
        "f1.csv",
        "f2.csv",
    ]
    assert [p.name for p in ftp_server.root.iterdir()] == ["sub"]
    # Climbing out of the target is refused for ship as for ls, also percent-encoded.
    climb = entrepot("ship", "outbox", "partner/sub/%2e%2e/%2e%2e", cwd=site, **env)
    assert climb.returncode == 3 and "'..'" in climb.stderr, climb.stderr


@pytest.mark.xdist_group("ftp")
def test_backlog_retry_of_a_route_gone_from_the_config_fails_and_keeps_the_job(
    site: Path, ftp_server: Any
) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml")}
    failed = entrepot("ship", "to-partner", "--max-tries", "1", cwd=site, PARTNER_PW="bad", **env)
    assert failed.returncode == 6, failed.stderr
    [job] = jobs(site)
    text = (site / "entrepot.toml").read_text()
    (site / "entrepot.toml").write_text(text.replace("[routes.to-partner]", "[routes.renamed]"))
    retried = entrepot("backlog", "retry", job["id"], cwd=site, PARTNER_PW=ftp_server.password,
                       **env)  # fmt: skip
    assert retried.returncode == 4, retried.stderr
    assert "no route named 'to-partner'" in retried.stderr and "renamed" in retried.stderr
    [job] = jobs(site)
    assert job["state"] == "backlog" and "no route named" in job["last_error"]
    assert list(ftp_server.root.iterdir()) == []


@pytest.mark.xdist_group("ftp")
def test_put_ls_get_check_with_a_target_name(site: Path, ftp_server: Any) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml"), "PARTNER_PW": ftp_server.password}
    local = site / "report.csv"
    local.write_text("a,b\n1,2\n")
    put = entrepot("put", local, "partner", cwd=site, **env)
    assert put.returncode == 0, put.stderr
    listed = entrepot("ls", "partner", "--json", cwd=site, **env)
    assert listed.returncode == 0, listed.stderr
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["report.csv"]
    copy = site / "copy.csv"
    got = entrepot("get", "partner/report.csv", copy, cwd=site, **env)
    assert got.returncode == 0, got.stderr
    assert copy.read_text() == "a,b\n1,2\n"
    checked = entrepot("check", "partner", cwd=site, **env)
    assert checked.returncode == 0, checked.stdout
    # What the command line gives wins over the file: here a wrong password.
    wrong = entrepot("check", "partner", "--password-env", "WRONG", cwd=site, WRONG="nope", **env)
    assert wrong.returncode == 6
    outputs = [put, listed, got, checked, wrong]
    assert all(ftp_server.password not in d.stdout + d.stderr for d in outputs)


@pytest.mark.xdist_group("ftp")
def test_unknown_names_and_missing_config_fail_clearly(site: Path, ftp_server: Any) -> None:
    env = {"ENTREPOT_CONFIG": str(site / "entrepot.toml"), "PARTNER_PW": ftp_server.password}
    typo = entrepot("ship", "outbox", "partnr", cwd=site, **env)
    assert typo.returncode == 4
    assert "no target named 'partnr'" in typo.stderr and "did you mean 'partner'" in typo.stderr
    assert str(site / "entrepot.toml") in typo.stderr
    nowhere = entrepot("ls", "partner", cwd=site, ENTREPOT_CONFIG=str(site / "missing.toml"))
    assert nowhere.returncode == 3 and "missing.toml" in nowhere.stderr
    # Nothing was recorded: a mistake in a name is no job.
    assert not ledger_file(site / "state").exists()


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_target_by_name_with_its_host_key_option(tmp_path: Path, sftp_server: Any) -> None:
    extra = f"""
[targets.vault]
url = "{sftp_server.url}"
password_env = "VAULT_PW"
options = {{ known_hosts = "{sftp_server.known_hosts}", timeout = 30 }}
"""
    write_config(tmp_path, "file:///nowhere", extra=extra)
    (sftp_server.root / "ready.csv").write_text("x")
    env = {"ENTREPOT_CONFIG": str(tmp_path / "entrepot.toml"), "VAULT_PW": sftp_server.password}
    listed = entrepot("ls", "vault", "--json", cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["ready.csv"]
    # Without the configured host key file the host is unknown: refused.
    other = tmp_path / "empty_known_hosts"
    other.write_text("")
    refused = entrepot("ls", "vault", "-o", f"known_hosts={other}", cwd=tmp_path, **env)
    assert refused.returncode == 6, refused.stderr


@pytest.mark.xdist_group("s3")
def test_s3_target_by_name_with_its_secret_by_reference(tmp_path: Path, s3_server: Any) -> None:
    extra = f"""
[targets.bucket]
url = "{s3_server.url}"
password_file = "secret.txt"
options = {{ access_key = "{s3_server.access_key}", timeout = 30, max_attempts = 1 }}
"""
    write_config(tmp_path, "file:///nowhere", extra=extra)
    secret = tmp_path / "secret.txt"
    secret.write_text(s3_server.secret_key)
    secret.chmod(0o600)
    env = {"ENTREPOT_CONFIG": str(tmp_path / "entrepot.toml")}
    checked = entrepot("check", "bucket", cwd=tmp_path, **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert s3_server.secret_key not in checked.stdout + checked.stderr
