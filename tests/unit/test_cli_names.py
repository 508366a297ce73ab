"""Which arguments are configured names, what they resolve to, and jobs rebuilt from names.

Issue 13, Configuration: every one-shot command takes a configured name
where it takes a URL or a folder.  The rules (``entrepot.cli.names``): a URL
is a URL, a path written as one (``/``, ``./``) is a path, an existing path
wins over a name, anything else is a name — unknown ones fail with exit 4,
a missing or broken file with exit 3, and nothing is recorded.  Local
``file://`` targets here; the network backends are in
``tests/integration/test_names_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrepot.cli import ExitCode
from entrepot.errors import UnknownName
from entrepot.jobs import Ledger
from entrepot.service.loading import load_config
from entrepot.service.named import rebuild, target_job
from entrepot.ship import FetchJob, ShipJob, ShipOptions
from entrepot.spool import Spool

CONFIG = """
[service]
state = "state"

[targets.partner]
url = "file://{remote}"
password_env = "PARTNER_PW"

[targets.archive]
url = "file://{remote}/archive"

[spools.outbox]
path = "spools/outbox"

[spools.inbox]
path = "spools/inbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "5m"
parallel = 2
conflict = "rename"

[fetches.from-archive]
target = "archive"
spool = "inbox"
every = "1h"
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration named by $ENTREPOT_CONFIG, its spools made, the current folder elsewhere."""
    remote = tmp_path / "remote"
    (remote / "archive").mkdir(parents=True)
    file = tmp_path / "entrepot.toml"
    file.write_text(CONFIG.format(remote=remote))
    for name in ("outbox", "inbox"):
        Spool(tmp_path / "spools" / name).prepare()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("ENTREPOT_CONFIG", str(file))
    monkeypatch.delenv("ENTREPOT_STATE_DIR", raising=False)
    monkeypatch.setenv("PARTNER_PW", "unused-by-file")
    return tmp_path


def outbox(site: Path) -> Spool:
    return Spool(site / "spools" / "outbox")


def test_ship_spool_name_to_target_name(cli: Any, site: Path) -> None:
    outbox(site).publish_bytes(b"x", "a.csv")
    code, out, err = cli("ship", "outbox", "partner")
    assert code == ExitCode.OK, err
    assert (site / "remote" / "a.csv").read_bytes() == b"x"
    # Recorded in the configuration's ledger, by name.
    code, out, _ = cli("jobs", "ls", "--json")
    [job] = json.loads(out)
    assert job["name"] == "ship outbox partner"
    assert job["params"]["spool"] == str(site / "spools" / "outbox")


def test_ship_route_name_alone_takes_the_route_settings_and_command_line_overrides(
    cli: Any, site: Path
) -> None:
    outbox(site).publish_bytes(b"x", "a.csv")
    code, _, err = cli("ship", "to-partner", "--parallel", "3")
    assert code == ExitCode.OK, err
    code, out, _ = cli("jobs", "ls", "--json")
    [job] = json.loads(out)
    options = job["params"]["options"]
    assert (options["parallel"], options["conflict"]) == (3, "rename")
    # What the command line gave is kept, for a retry to give it again.
    origin = {"config": str(site / "entrepot.toml"), "route": "to-partner"}
    assert job["params"]["origin"] == {**origin, "shipping": {"parallel": 3}}
    assert job["name"] == "ship to-partner"


def test_a_route_job_rebuilt_for_a_retry_applies_the_command_line_options_again(
    cli: Any, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTHER_PW", "other-Secret-77")
    outbox(site).publish_bytes(b"x", "a.csv")
    given_args = ["--protocol", "lock", "--max-tries", "1", "--retry-delay", "0",
                  "--password-env", "OTHER_PW", "-o", "durable=no"]  # fmt: skip
    code, _, err = cli("ship", "to-partner", *given_args)
    assert code == ExitCode.OK, err
    with Ledger.open(site / "state") as ledger:
        [record] = ledger.jobs()
    given = {"password_env": "OTHER_PW", "durable": "no"}
    assert record.params["origin"] == {
        "config": str(site / "entrepot.toml"),
        "route": "to-partner",
        "options": given,
        "shipping": {"protocol": "lock"},
        "max_tries": 1,
        "retry_delay": 0.0,
    }
    assert "other-Secret-77" not in json.dumps(record.params)
    # The file changes what the command line did not give: that change is used.
    text = (site / "entrepot.toml").read_text()
    (site / "entrepot.toml").write_text(text.replace("parallel = 2", "parallel = 5"))
    again = rebuild(ShipJob, json.loads(json.dumps(record.params)))
    # The same piece of work as the run recorded: the lock protocol is part of its identity.
    assert again.identity() == record.identity
    assert (again.route.options.protocol, again.route.options.parallel) == ("lock", 5)
    assert again.route.target_options == given
    assert (again.max_tries, again.retry_delay, again.name) == (1, 0.0, "ship to-partner")
    assert again.origin == record.params["origin"]


def test_ship_and_fetch_with_a_sub_folder_of_a_named_target(cli: Any, site: Path) -> None:
    (site / "remote" / "sub folder").mkdir()
    outbox(site).publish_bytes(b"x", "a.csv")
    code, _, err = cli("ship", "outbox", "partner/sub%20folder")
    assert code == ExitCode.OK, err
    assert (site / "remote" / "sub folder" / "a.csv").read_bytes() == b"x"
    code, _, err = cli("fetch", "partner/sub%20folder", "inbox")
    assert code == ExitCode.OK, err
    assert Spool(site / "spools" / "inbox").names() == ["a.csv"]
    with Ledger.open(site / "state") as ledger:
        records = sorted(ledger.jobs(), key=lambda record: record.name)
    assert [record.name for record in records] == [
        "fetch partner/sub%20folder inbox",
        "ship outbox partner/sub%20folder",
    ]
    for record in records:
        assert record.params["origin"]["folder"] == "sub%20folder"
        kind = FetchJob if record.kind == "fetch" else ShipJob
        again = rebuild(kind, record.params)
        assert again.route.url == (site / "remote" / "sub folder").as_uri()
        assert again.identity() == record.identity


@pytest.mark.parametrize("sub", ["%2e%2e", "a/%2E%2E/..", "a%2F..%2F..", "a//b", "a%5Cb", "a%00"])
def test_a_sub_folder_that_would_leave_its_target_is_refused_by_ship(
    cli: Any, site: Path, sub: str
) -> None:
    outbox(site).publish_bytes(b"x", "a.csv")
    code, _, err = cli("ship", "outbox", f"partner/{sub}")
    assert code == ExitCode.CONFIG, err
    assert "cannot be a folder below a target" in err
    assert outbox(site).names() == ["a.csv"] and not (site / "state").exists()


def test_an_existing_folder_wins_over_a_spool_name_and_a_written_path_is_always_a_path(
    cli: Any, site: Path
) -> None:
    local = Spool(Path("outbox")).prepare()  # ./outbox in the current folder
    local.publish_bytes(b"local", "here.csv")
    outbox(site).publish_bytes(b"configured", "there.csv")
    code, out, _ = cli("spool", "ls", "outbox", "--json")
    assert code == 0 and [e["name"] for e in json.loads(out)] == ["here.csv"]
    code, _, err = cli("spool", "ls", "./inbox")  # written as a path: no look-up
    assert code == ExitCode.NOT_FOUND and "spool inbox does not exist" in err
    code, out, _ = cli("spool", "ls", "inbox", "--json")  # no such folder: the name
    assert code == 0 and json.loads(out) == []


def test_fetch_target_name_into_spool_name(cli: Any, site: Path) -> None:
    (site / "remote" / "archive" / "old.csv").write_text("o")
    code, _, err = cli("fetch", "archive", "inbox")
    assert code == ExitCode.OK, err
    assert Spool(site / "spools" / "inbox").names() == ["old.csv"]


def test_fetch_name_alone_runs_the_configured_fetch(cli: Any, site: Path) -> None:
    (site / "remote" / "archive" / "late.csv").write_text("l")
    code, _, err = cli("fetch", "from-archive")
    assert code == ExitCode.OK, err
    assert Spool(site / "spools" / "inbox").names() == ["late.csv"]
    code, out, _ = cli("jobs", "ls", "--json")
    [job] = json.loads(out)
    assert job["name"] == "fetch from-archive"
    assert job["params"]["origin"]["fetch"] == "from-archive"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ship", "outbox", "partnr"), "no target named 'partnr'"),
        (("ship", "outbx", "partner"), "no spool named 'outbx'"),
        (("ship", "to-partnr"), "no route named 'to-partnr'"),
        (("ship", "outbox"), "'outbox' is a spool or target: name the other end too"),
        (("fetch", "from-archiv"), "no fetch named 'from-archiv'"),
        (("ls", "nobody"), "no target named 'nobody'"),
        (("spool", "stats", "outbax"), "no spool named 'outbax'"),
    ],
)
def test_an_unknown_name_is_not_found_with_the_file_and_the_known_names(
    cli: Any, site: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli(*args)
    assert code == ExitCode.NOT_FOUND, err
    assert message in err and str(site / "entrepot.toml") in err and "known:" in err
    assert not (site / "state").exists()  # nothing recorded


def test_did_you_mean(cli: Any, site: Path) -> None:
    _, _, err = cli("check", "partnr")
    assert "did you mean 'partner'?" in err


def test_no_configuration_or_a_broken_one_is_a_configuration_error(
    cli: Any, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTREPOT_CONFIG", str(site / "absent.toml"))
    code, _, err = cli("ls", "partner")
    assert code == ExitCode.CONFIG and "absent.toml" in err and "'partner'" in err
    broken = site / "broken.toml"
    broken.write_text('[targets.partner]\nurl = "file:///x"\nparalel = 2\n')
    code, _, err = cli("ls", "partner", "--config", broken)
    assert code == ExitCode.CONFIG and "broken.toml:3" in err


def test_without_a_configuration_a_word_is_a_folder_as_before(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTREPOT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-xdg"))
    code, _, _ = cli("spool", "init", "fresh")
    assert code == 0 and (tmp_path / "fresh" / "new").is_dir()
    code, _, _ = cli("spool", "ls", "missing")
    assert code == ExitCode.NOT_FOUND


def test_spool_init_of_a_configured_name_makes_its_folder(cli: Any, site: Path) -> None:
    text = (site / "entrepot.toml").read_text()
    (site / "entrepot.toml").write_text(text + '\n[spools.later]\npath = "spools/later"\n')
    code, _, err = cli("spool", "init", "later")
    assert code == 0, err
    assert (site / "spools" / "later" / "new").is_dir()


def test_a_target_job_rebuilt_from_names_follows_the_current_file(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_PW", "rotated")
    config = load_config(site / "entrepot.toml")
    job = target_job(
        ShipJob, config, "partner", config.spools["outbox"].path, spool_name="outbox",
        overrides={"timeout": 5}, options=ShipOptions(parallel=4), max_tries=2, retry_delay=0.0,
    )  # fmt: skip
    params = job.params()
    assert params["origin"]["options"] == {"timeout": 5}
    # The target moves and its password source changes in the file.
    moved = site / "moved"
    moved.mkdir()
    text = (
        (site / "entrepot.toml").read_text().replace(f'file://{site}/remote"', f'file://{moved}"')
    )
    (site / "entrepot.toml").write_text(text.replace("PARTNER_PW", "NEW_PW"))
    again = rebuild(ShipJob, json.loads(json.dumps(params)))
    assert again.route.url == f"file://{moved}"
    assert again.route.target_options == {"password_env": "NEW_PW", "timeout": 5}
    assert (again.route.options.parallel, again.max_tries) == (4, 2)
    # Gone from the file: a clear error.
    gone = text.replace("[targets.partner]", "[targets.other]")
    (site / "entrepot.toml").write_text(gone.replace('target = "partner"', 'target = "other"'))
    with pytest.raises(UnknownName, match="no target named 'partner'"):
        rebuild(ShipJob, params)


def test_a_job_without_origin_is_rebuilt_from_its_parameters(site: Path) -> None:
    remote = site / "remote"
    job = FetchJob(str(site / "spools" / "inbox"), remote.as_uri(), max_tries=1)
    again = rebuild(FetchJob, job.params())
    assert again.params() == job.params() and again.origin is None


def test_archive_write_hands_off_to_a_spool_name(site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "entrepot", "archive", "write", "events", "--spool", "inbox"],
        input='{"n": 1}\n',
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
        cwd=Path.cwd(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [sealed] = Spool(site / "spools" / "inbox").names()
    assert sealed.endswith(".events")


def test_jobs_and_backlog_read_the_ledger_of_the_configuration_named(
    cli: Any, site: Path, tmp_path: Path
) -> None:
    outbox(site).publish_bytes(b"x", "a.csv")
    assert cli("ship", "to-partner")[0] == ExitCode.OK
    code, out, _ = cli("jobs", "ls", "--json", "--config", site / "entrepot.toml")
    assert code == 0 and [job["name"] for job in json.loads(out)] == ["ship to-partner"]
    Ledger.open(tmp_path / "other").close()
    code, out, _ = cli("jobs", "ls", "--json", "--state", tmp_path / "other")
    assert code == 0 and json.loads(out) == []  # --state still wins
    code, _, err = cli("jobs", "ls", "--config", site / "missing.toml")
    assert code == ExitCode.CONFIG and "missing.toml" in err
