"""``entrepot status`` as monitoring runs it (a subprocess), with and without a configuration.

With a configuration it reports each configured spool, each route (found in
the ledger by the identity its jobs carry) and the running service from
``<state>/service.json`` — whose PID must be alive, and the state folder's
lock held; without one it keeps the output it always had.  Exit codes: 1
while a job waits in the backlog or is dead, 4 for a named spool that does
not exist, else 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger, Runner
from entrepot.service.loading import load_config
from entrepot.ship import ShipJob, ShipOptions
from entrepot.spool import Spool

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))

CONFIG = """
[service]
state = "state"
listen = "127.0.0.1:9180"

[targets.partner]
url = "file://{remote}"

[targets.gone]
url = "file://{remote}/no-such-folder"

[spools.outbox]
path = "spools/outbox"

[spools.returns]
path = "spools/returns"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "5m"

[routes.to-gone]
spool = "returns"
target = "gone"
cron = "0 2 * * *"
"""


def entrepot(
    *args: object, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ENTREPOT_CONFIG",)}
    # No configuration of the machine's user leaks into the test.
    clean["XDG_CONFIG_HOME"] = str(cwd / "no-xdg")
    clean.pop("ENTREPOT_STATE_DIR", None)
    return subprocess.run(
        [ENTREPOT, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, **(env or {})},
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A configured service whose two routes each ran once: one delivered, one failed."""
    remote = tmp_path / "remote"
    remote.mkdir()
    (tmp_path / "entrepot.toml").write_text(CONFIG.format(remote=remote))
    config = load_config(tmp_path / "entrepot.toml")
    outbox = Spool(config.spools["outbox"].path).prepare()
    returns = Spool(config.spools["returns"].path).prepare()
    outbox.publish_bytes(b"x" * 300, "delivered.csv")
    returns.publish_bytes(b"y" * 20, "stuck-1.csv")
    returns.publish_bytes(b"z" * 22, "stuck-2.csv")
    with Ledger.open(config.service.state) as ledger:
        for route in ("to-partner", "to-gone"):
            settings = config.routes[route]
            job = ShipJob(
                str(config.spools[settings.spool].path),
                config.targets[settings.target].url,
                options=ShipOptions(protocol=settings.protocol),
                max_tries=1,
            )
            Runner(ledger).run(job)
    outbox.publish_bytes(b"w" * 5, "waiting.csv")
    return tmp_path


#: A process that holds the state folder's lock, as a running service does.
HOLD_LOCK = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from entrepot.service.instance import InstanceLock\n"
    "lock = InstanceLock(Path(sys.argv[1])).acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def live_pid(site: Path) -> Iterator[int]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(site / "state")], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child.pid
        child.kill()


def write_service_json(site: Path, pid: int, started: datetime) -> None:
    due = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds")
    (site / "state" / "service.json").write_text(
        json.dumps(
            {
                "pid": pid,
                "started_at": started.isoformat(timespec="seconds"),
                "config": str(site / "entrepot.toml"),
                "generation": 3,
                "listen": "127.0.0.1:9180",
                "state": str(site / "state"),
                "routes": {
                    "to-partner": {"on_arrival": False, "next_due": due, "held_until": None},
                    "to-gone": {"on_arrival": False, "next_due": None, "held_until": due},
                },
                "fetches": {},
            }
        )
    )


def test_status_json_of_a_running_service(site: Path, live_pid: int) -> None:
    started = datetime.now(UTC) - timedelta(hours=2)
    write_service_json(site, live_pid, started)
    result = entrepot("status", "--json", "--config", "entrepot.toml", cwd=site)
    assert result.returncode == 1, result.stderr  # to-gone's job waits in the backlog
    report = json.loads(result.stdout)

    service = report["service"]
    assert service["running"] is True and service["pid"] == live_pid
    assert 2 * 3600 - 5 <= service["uptime_seconds"] <= 2 * 3600 + 600
    assert (service["generation"], service["listen"]) == (3, "127.0.0.1:9180")
    assert service["config"] == str(site / "entrepot.toml")

    outbox = report["spools"]["outbox"]
    assert outbox["exists"] is True
    assert outbox["areas"]["new"]["files"] == 1 and outbox["areas"]["new"]["bytes"] == 5
    assert outbox["areas"]["cur"]["files"] == 1 and outbox["areas"]["cur"]["bytes"] == 300
    assert outbox["areas"]["new"]["oldest_age_seconds"] >= 0
    assert outbox["areas"]["claimed"] == {"files": 0, "bytes": 0, "oldest_age_seconds": None}
    assert report["spools"]["returns"]["areas"]["new"]["files"] == 2

    partner, gone = report["routes"]["to-partner"], report["routes"]["to-gone"]
    assert partner["last_outcome"] == "succeeded" and partner["last_error"] is None
    assert partner["last_success"] == partner["last_run"] is not None
    assert (
        partner["next_due"]
        == json.loads((site / "state" / "service.json").read_text())["routes"]["to-partner"][
            "next_due"
        ]
    )
    assert gone["last_outcome"] == "failed" and gone["last_success"] is None
    assert "no-such-folder" in gone["last_error"]["error"]
    assert gone["waiting_job"] is not None
    assert report["jobs"]["backlog"] == 1 and report["jobs"]["succeeded"] == 1
    assert [job["id"] for job in report["attention"]] == [gone["waiting_job"]]


def test_status_json_without_a_running_service(site: Path, live_pid: int) -> None:
    # A service.json left by a service that was killed names a PID that is gone.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_service_json(site, gone.pid, datetime.now(UTC))
    result = entrepot(
        "status", "--json", cwd=site, env={"ENTREPOT_CONFIG": str(site / "entrepot.toml")}
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["service"] == {"running": False}
    # Without the service's schedule, a waiting job's own due time is shown.
    assert report["routes"]["to-gone"]["next_due"] is not None
    assert report["routes"]["to-partner"]["next_due"] is None
    (site / "state" / "service.json").unlink()
    again = entrepot("status", "--json", "-c", "entrepot.toml", cwd=site)
    assert json.loads(again.stdout)["service"] == {"running": False}


def test_status_tables_name_the_service_spools_and_routes(site: Path, live_pid: int) -> None:
    write_service_json(site, live_pid, datetime.now(UTC) - timedelta(minutes=3))
    result = entrepot("status", "--config", "entrepot.toml", cwd=site, env={"COLUMNS": "200"})
    assert result.returncode == 1, result.stderr
    assert f"running, PID {live_pid}, up 3m" in result.stdout
    for word in ("outbox", "returns", "to-partner", "to-gone", "no such folder", "succeeded"):
        assert word in result.stdout


def test_named_spools_are_configured_names_or_folders(site: Path) -> None:
    only = entrepot("status", "--json", "-c", "entrepot.toml", "outbox", cwd=site)
    assert list(json.loads(only.stdout)["spools"]) == ["outbox"]
    missing = entrepot("status", "--json", "-c", "entrepot.toml", "nope", cwd=site)
    assert missing.returncode == 4
    assert "nope" in missing.stderr


def test_a_folder_wins_over_a_spool_name_as_in_every_command(site: Path) -> None:
    # "outbox" is configured (spools/outbox, 1 file waiting); here a folder of
    # that name also exists, holding 2 files: the folder is what is shown.
    local = Spool(site / "outbox").prepare()
    local.publish_bytes(b"a", "a.csv")
    local.publish_bytes(b"b", "b.csv")
    folder = entrepot("status", "--json", "-c", "entrepot.toml", "outbox", cwd=site)
    assert json.loads(folder.stdout)["spools"]["outbox"]["areas"]["new"]["files"] == 2
    # A name that is no folder here is the configured spool.
    here = site / "elsewhere"
    here.mkdir()
    named = entrepot("status", "--json", "-c", site / "entrepot.toml", "outbox", cwd=here)
    assert json.loads(named.stdout)["spools"]["outbox"]["areas"]["new"]["files"] == 1
    # Written as a path, a missing folder is a missing folder, never a name.
    written = entrepot("status", "--json", "-c", site / "entrepot.toml", "./outbox", cwd=here)
    assert written.returncode == 4
    # An unknown name says which names there are.
    unknown = entrepot("status", "-c", site / "entrepot.toml", "outbx", cwd=here)
    assert unknown.returncode == 4 and "outbox" in unknown.stderr


def test_no_backlog_exits_0(site: Path) -> None:
    with Ledger.open(site / "state") as ledger:
        (job,) = ledger.jobs(states=["backlog"])
        ledger.set_state(job.id, JobState.DROPPED, reason="given up by the operator")
    result = entrepot("status", "-c", "entrepot.toml", cwd=site)
    assert result.returncode == 0, result.stderr


def test_a_broken_configuration_exits_3(site: Path) -> None:
    (site / "entrepot.toml").write_text("[service]\nlisten = 'nowhere'\n")
    result = entrepot("status", "-c", "entrepot.toml", cwd=site)
    assert result.returncode == 3
    assert "listen" in result.stderr


def test_without_a_configuration_status_keeps_its_output_and_imports(site: Path) -> None:
    result = entrepot("status", "--json", "--state", "state", "spools/outbox", cwd=site)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"spools", "jobs", "attention", "orphaned"}
    assert report["spools"][str(Path("spools/outbox"))]["new"] == {"files": 1, "bytes": 5}
    # Nothing of the service (its configuration, the metrics, the web server) is loaded for it.
    probe = (
        "import sys; from entrepot.cli import main; code = main(['status', '--state', 'state']); "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('entrepot.service.', 'prometheus_client', 'starlette', 'uvicorn'))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "ENTREPOT_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(site / "no-xdg")
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=site,
        env=env,
        check=True,
    )
    assert loaded.stdout.strip().splitlines()[-1] == "['entrepot.service.paths']"
