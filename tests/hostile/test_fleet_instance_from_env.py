"""An instance name taken from ``$ENTREPOT_INSTANCE`` is checked like a configured one.

What was wrong: a configuration that names no instance took the variable's
value as it was.  An 80-character name passed ``validate`` and ``serve``
said ready, then every heartbeat and every shared route's run failed (the
ledger holds 64 characters); control characters went into the ledger raw.

What is expected now: ``validate`` and ``serve`` refuse such a value with
exit 3, saying that it is the variable's and what a name may hold; a good
value is used as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.cli.exitcodes import ExitCode
from tests.hostile._shipping import entrepot

CONFIG = """\
[service]
state = "state"
"""


@pytest.mark.parametrize("value", ["x" * 80, "a\x1b[31mb", "../up", "-lead"])
def test_validate_and_serve_refuse_an_unusable_name_from_the_environment(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "entrepot.toml"
    path.write_text(CONFIG)
    env = {"ENTREPOT_INSTANCE": value}
    for command in (("validate", path), ("serve", "--config", path)):
        done = entrepot(*command, env=env, cwd=tmp_path, timeout=60)
        assert done.returncode == ExitCode.CONFIG, (command, done.stdout, done.stderr)
        said = done.stdout + done.stderr
        assert "service.instance" in said and "$ENTREPOT_INSTANCE" in said
        assert "is not a usable instance name" in said
        assert "\x1b" not in said  # shown escaped, never raw
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()


def test_a_usable_name_from_the_environment_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "entrepot.toml"
    path.write_text(CONFIG)
    done = entrepot("validate", path, env={"ENTREPOT_INSTANCE": "edge-7.example"}, cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
