"""The fleet's settings: the instance's name, ``[service.fleet]``, ``shared`` on routes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.service.config import Config
from entrepot.service.fleetconfig import default_instance
from entrepot.service.loading import check_config


def test_the_instance_defaults_to_the_host_name_made_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "edge 01/ünïcode")
    assert default_instance() == "edge-01--n-code"
    monkeypatch.setattr("socket.gethostname", lambda: "...")
    assert default_instance() == "entrepot"
    monkeypatch.setattr("socket.gethostname", lambda: "ok-host.example.org")
    assert Config().service.instance == "ok-host.example.org"


def test_fleet_settings_are_checked_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "entrepot.toml"
    path.write_text(
        '[service]\ninstance = "../edge"\n'
        '[service.fleet]\nheartbeat = "10s"\nlease = "15s"\n'
        "[spools.out]\npath = 'out'\n[targets.t]\nurl = 'file:///tmp/t'\n"
        "[routes.r]\nspool = 'out'\ntarget = 't'\nevery = '1m'\nshared = 'maybe'\n"
    )
    _config, problems = check_config(path)
    found = {(p.line, str(p).split(": ", 1)[1].split(":")[0]) for p in problems}
    assert (2, "service.instance") in found
    assert any("lease at least two heartbeats" in str(p) for p in problems)
    assert any("routes.r.shared" in str(p) for p in problems)


def test_routes_fetches_and_the_data_center_are_their_hosts_own_unless_shared() -> None:
    config = Config.model_validate(
        {
            "service": {"instance": "central-2", "fleet": {"heartbeat": "2s", "lease": "8s"}},
            "spools": {"in": {"path": "/srv/in"}},
            "targets": {"t": {"url": "file:///srv/t"}},
            "routes": {"r": {"spool": "in", "target": "t", "every": 60, "shared": True}},
            "fetches": {"f": {"spool": "in", "target": "t", "every": 60}},
            "datacenter": {"root": "/srv/dc", "shared": True},
        }
    )
    assert (config.service.instance, config.service.fleet.lease) == ("central-2", 8.0)
    assert config.routes["r"].shared and not config.fetches["f"].shared
    assert config.datacenter is not None and config.datacenter.shared


def test_status_fleet_lists_instances_and_flags_silent_ones_and_stuck_routes(
    tmp_path: Path, cli: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from entrepot.jobs import Ledger, ledger_url

    url = ledger_url(tmp_path / "state")
    (tmp_path / "state").mkdir()
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    waiting = {
        "spools": {"outbox": {"waiting": 7}},
        "routes": {"to-hq": {"kind": "ship", "spool": "outbox", "last_success": None}},
    }
    with Ledger(url, instance="edge-1") as edge, Ledger(url, instance="edge-2") as other:
        edge.beat(started_at=long_ago, generation=4, every=3600, lease=7200, report=waiting)
        other.beat(started_at=long_ago, generation=1, every=0.001, lease=1, report={})
    time.sleep(0.05)
    code, out, _ = cli("status", "--fleet", "--state", tmp_path / "state")
    assert code == 1
    assert "edge-1" in out and "alive" in out and "edge-2" in out and "silent" in out
    assert "to-hq" in out and "7 files waiting" in out
    code, out, _ = cli("status", "--fleet", "--json", "--state", tmp_path / "state")
    view = json.loads(out)
    assert (code, view["silent"]) == (1, ["edge-2"])
    assert [(s["instance"], s["route"]) for s in view["stuck"]] == [("edge-1", "to-hq")]
