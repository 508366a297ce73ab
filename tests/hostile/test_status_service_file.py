"""``entrepot status`` reading ``<state>/service.json`` of unexpected content.

What was wrong: ``status`` trusted the file a running service writes.  A
schedule that was a list or a string, or a ``next_due`` that was not a time,
ended in a traceback (exit 1, which monitoring reads as "a job needs
attention"); the listen address and generation were printed raw, so rich
markup in them was interpreted and an escape sequence reached the
terminal; and a live PID alone made the service "running", although after
a ``kill -9`` that PID may belong to another process.

What is expected now: the file is a report, not trusted — the service runs
only while the state folder's lock is held, a schedule of another shape is
left out, and everything it says is printed escaped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger
from entrepot.service.instance import InstanceLock
from entrepot.service.starter import write_starter
from tests.hostile._shipping import entrepot


@pytest.fixture
def config(tmp_path: Path) -> Path:
    file = tmp_path / "svc" / "entrepot.toml"
    write_starter(file)
    Ledger.open(file.parent / "state").close()
    return file


@pytest.fixture
def locked(config: Path) -> Iterator[Path]:
    """The state folder, its lock held by this process as a running service holds it."""
    state = config.parent / "state"
    with InstanceLock(state):
        yield state


def _write(state: Path, data: Any) -> None:
    (state / "service.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(
    "schedule",
    [
        {"routes": [1, 2]},
        {"routes": "outbox-to-local", "fetches": 7},
        {"routes": {"outbox-to-local": [1]}},
        {"routes": {"outbox-to-local": {"next_due": "soon"}}},
        {"routes": {"outbox-to-local": {"next_due": 12}}},
        {"routes": {"outbox-to-local": {"next_due": "2026-01-01T00:00:00"}}},
    ],
)
def test_a_schedule_of_another_shape_is_left_out_not_a_traceback(
    config: Path, locked: Path, schedule: dict[str, Any]
) -> None:
    _write(locked, {"pid": os.getpid(), **schedule})
    for extra in ([], ["--json"]):
        done = entrepot("status", "-c", config, *extra)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert f"running, PID {os.getpid()}" in entrepot("status", "-c", config).stdout


def test_what_the_service_says_of_itself_is_printed_escaped(config: Path, locked: Path) -> None:
    _write(locked, {"pid": os.getpid(), "listen": "[bold red]x\x1b[2J", "generation": "[link=x]g"})
    done = entrepot("status", "-c", config)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert "\x1b" not in done.stdout
    assert "[bold red]x" in first and "[link=x]g" in first


def test_a_live_pid_without_the_lock_held_is_no_running_service(config: Path) -> None:
    # A service killed with -9 whose PID now belongs to another process (this one).
    _write(config.parent / "state", {"pid": os.getpid(), "listen": "127.0.0.1:1"})
    done = entrepot("status", "-c", config, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["service"] == {"running": False}
    assert "not running" in entrepot("status", "-c", config).stdout


def test_a_lane_whose_last_run_crashed_unrecorded_needs_attention(
    config: Path, locked: Path
) -> None:
    """A full state disk crashes every run before it is recorded: the ledger shows nothing
    wrong, so ``status`` exited 0.  The service's own word (``crashed``) makes it 1."""
    _write(locked, {"pid": os.getpid(), "crashed": {"route:outbox-to-local": "No space left"}})
    done = entrepot("status", "-c", config)
    assert done.returncode == 1, done.stderr
    assert "crashed before it was recorded" in done.stdout
    assert "route:outbox-to-local" in done.stdout
    _write(locked, {"pid": os.getpid(), "crashed": {}})
    assert entrepot("status", "-c", config).returncode == 0
