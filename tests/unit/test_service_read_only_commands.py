"""Commands that only read, given a configuration: they make nothing and show paths as written.

A state folder the configuration names and that does not exist is a mistake
(exit 4, nothing made), as one named by ``--state`` is — a health check
pointed at a mistyped folder fails instead of reporting all well.  The
state folder ``status`` names is escaped like every shown value.  An empty
``trace`` pattern and a ``receipt`` written onto a folder are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger
from tests.one_route import one_route


def _ledger_in(folder: Path) -> None:
    """``folder`` made a state folder: one holding a ledger."""
    Ledger.open(folder).close()


def _config(tmp_path: Path, state: str = "state") -> Path:
    path = tmp_path / "entrepot.toml"
    path.write_text(one_route(tmp_path, state=state))
    return path


@pytest.mark.parametrize(
    "command",
    [["status"], ["jobs", "ls"], ["jobs", "show", "abc"], ["backlog", "ls"], ["trace", "a.csv"],
     ["trace", "--undelivered"], ["trace", "a.csv", "--route", "r"], ["receipt", "r"]],
)  # fmt: skip
def test_a_missing_state_folder_of_the_configuration_is_not_made(
    cli: Any, tmp_path: Path, command: list[str]
) -> None:
    config = _config(tmp_path, "nostate")
    code, out, err = cli(*command, "--config", config)
    assert code == 4, out + err
    assert "no state folder at" in err and "nostate" in err
    assert not (tmp_path / "nostate").exists()


def test_a_state_folder_holding_a_ledger_is_read(cli: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _ledger_in(tmp_path / "state")
    code, out, err = cli("jobs", "ls", "--config", config)
    assert code == 0 and "0 jobs" in out, err


def test_status_shows_the_state_folder_escaped(cli: Any, tmp_path: Path) -> None:
    for state in ("st[/red]x", "st[red]ate[/red]x", "st\\u001b[31mate"):
        config = _config(tmp_path, state)
        folder = tmp_path / state.replace("\\u001b", "\x1b")
        _ledger_in(folder)
        code, out, err = cli("status", "--config", config)
        assert code == 0, err
        first = out.splitlines()[0]
        assert "\x1b" not in out
        assert first.endswith(f"(state folder {tmp_path}/{state.replace('u001b', 'x1b')})")


def test_trace_refuses_an_empty_pattern(cli: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _ledger_in(tmp_path / "state")
    code, _, err = cli("trace", "", "--config", config)
    assert code == 2 and "empty NAME" in err


def test_a_receipt_is_not_written_onto_a_folder(cli: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _ledger_in(tmp_path / "state")
    (tmp_path / "rdir").mkdir()
    code, _, err = cli("receipt", "r", "--config", config, "-o", tmp_path / "rdir")
    assert code == 3 and "is a folder" in err and "Errno" not in err
    code, _, err = cli("receipt", "r", "--config", config, "-o", tmp_path / "nodir" / "x.csv")
    assert code == 4 and f"no folder {tmp_path / 'nodir'}" in err and ".tmp" not in err
