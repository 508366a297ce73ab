"""Which instance a one-shot command records its runs as (issue 16: each instance's name
from the config): explicit > the configuration's ``[service] instance`` > $ENTREPOT_INSTANCE
> the host's name, the same rule for every command kind (:mod:`entrepot.instances`) —
a route run (``ship``, ``fetch``), a backlog re-run, a ledger opened without a
configuration (``dc import``; ``ship`` between a folder and a URL, which never
reads the configuration).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.instances import host_instance, instance_for
from entrepot.jobs import Ledger, Runner
from entrepot.service.loading import load_config
from entrepot.ship import ShipJob
from entrepot.spool import Spool

CONFIG = """
[service]
state = "state"
{instance}

[targets.partner]
url = "file://{remote}"

[spools.outbox]
path = "spools/outbox"

[spools.inbox]
path = "spools/inbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "1h"

[fetches.from-partner]
target = "partner"
spool = "inbox"
every = "1h"
"""


def _site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: str) -> Path:
    remote = tmp_path / "remote"
    remote.mkdir()
    file = tmp_path / "entrepot.toml"
    file.write_text(CONFIG.format(remote=remote, instance=instance))
    for name in ("outbox", "inbox"):
        Spool(tmp_path / "spools" / name).prepare()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENTREPOT_CONFIG", str(file))
    monkeypatch.setenv("ENTREPOT_INSTANCE", "from-env")
    monkeypatch.delenv("ENTREPOT_STATE_DIR", raising=False)
    return tmp_path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration naming instance ``from-config``, named by $ENTREPOT_CONFIG, with
    $ENTREPOT_INSTANCE saying otherwise."""
    return _site(tmp_path, monkeypatch, 'instance = "from-config"')


def _instances(state: Path) -> list[str | None]:
    with Ledger.open(state) as ledger:
        return [run.instance for job in ledger.jobs() for run in ledger.runs(job.id)]


def test_route_runs_record_the_configured_instance(site: Path, cli: object) -> None:
    Spool(site / "spools" / "outbox").publish_bytes(b"a\n", "a.csv")
    assert cli("ship", "to-partner")[0] == 0  # type: ignore[operator]
    assert cli("fetch", "from-partner")[0] == 0  # type: ignore[operator]
    # A folder and a URL never read the configuration: the environment names it.
    Spool(site / "spools" / "outbox").publish_bytes(b"b\n", "b.csv")
    plain = ("ship", "spools/outbox", f"file://{site / 'remote'}", "--state", "other")
    assert cli(*plain)[0] == 0  # type: ignore[operator]
    assert _instances(site / "state") == ["from-config", "from-config"]
    assert _instances(site / "other") == ["from-env"]


def test_a_backlog_retry_runs_the_service_s_own_jobs(site: Path, cli: object) -> None:
    Spool(site / "spools" / "outbox").publish_bytes(b"a\n", "a.csv")
    job = ShipJob(str(site / "spools" / "outbox"), f"file://{site / 'remote'}")
    with Ledger.open(site / "state", instance="from-config") as ledger:
        waiting = Runner(ledger).submit(job)  # the service's own (not shared)
    assert waiting.scope == "from-config"
    code, _, err = cli("backlog", "retry", "--all")  # type: ignore[operator]
    assert code == 0, err
    assert _instances(site / "state") == ["from-config"]
    assert (site / "remote" / "a.csv").exists()


def test_a_configuration_without_an_instance_takes_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: object
) -> None:
    site = _site(tmp_path, monkeypatch, "")
    assert load_config(site / "entrepot.toml").service.instance == "from-env"
    assert cli("fetch", "from-partner")[0] == 0  # type: ignore[operator]
    assert _instances(site / "state") == ["from-env"]


def test_the_rule_in_one_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENTREPOT_INSTANCE", "from-env")
    assert instance_for("explicit", "from-config") == "explicit"
    assert instance_for(None, "from-config") == "from-config"
    assert instance_for() == "from-env"
    with Ledger.open(tmp_path / "a") as ledger:
        assert ledger.instance == "from-env"  # a command without a configuration
    monkeypatch.delenv("ENTREPOT_INSTANCE")
    assert instance_for() == host_instance()
    with Ledger.open(tmp_path / "b") as ledger:
        assert ledger.instance == host_instance()
