"""What the jobs commands show of a ledger that holds hostile text, in a subprocess.

Issue 10 items covered here:

* 8 (jobs part) — the ledger refuses parameters holding a password (see
  ``tests/unit/test_jobs_identity.py``); a ledger written before that rule,
  or by hand, may still hold one: ``jobs ls``, ``jobs show``, ``backlog ls``
  and ``status`` — tables and ``--json`` — never print it;
* 12 — job names, errors and parameters holding escape sequences, newlines
  or rich markup are printed escaped: nothing rewrites the screen, forges a
  line or crashes the command (``[/]``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.jobs import Ledger
from entrepot.jobs.schema import jobs_table
from tests.hostile._shipping import entrepot

LEAKY_URL = "ftp://u:ab/cdSECRET@host:2131/in"
HOSTILE_NAME = "ship \x1b[2J[/]in[reverse]voice\nFORGED jobs.run_finished"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A ledger with a job written as an older release would have: secrets and all."""
    folder = tmp_path / "state"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with Ledger.open(folder) as ledger, ledger.engine.begin() as conn:
        conn.execute(
            sa.insert(jobs_table).values(
                id="20260101-old",
                kind="ship",
                name=HOSTILE_NAME,
                params={"url": LEAKY_URL, "target_options": {"password": "SECRET"}},
                state="backlog",
                created_at=now,
                updated_at=now,
                runs=1,
                failures=1,
                next_due=now,
                last_error=f"send failed: cannot reach {LEAKY_URL}\x1b]0;owned\x07",
                items=0,
                bytes=0,
            )
        )
    return folder


COMMANDS = [
    ["jobs", "ls"],
    ["jobs", "ls", "--json"],
    ["jobs", "show", "20260101-old"],
    ["jobs", "show", "20260101-old", "--json"],
    ["backlog", "ls"],
    ["backlog", "ls", "--json"],
    ["status"],
    ["status", "--json"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_secret_and_no_raw_control_character_is_printed(command: list[str], state: Path) -> None:
    done = entrepot(*command, "--state", state)
    assert done.returncode in (0, 1), done.stderr  # status: 1, a job waits in the backlog
    printed = done.stdout + done.stderr
    assert "SECRET" not in printed
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\nFORGED" not in printed
    assert "Traceback" not in printed
    if "--json" in command:
        json.loads(done.stdout)
    else:
        assert "in[reverse]voice" in done.stdout or command[0] == "status"
