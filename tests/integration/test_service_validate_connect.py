"""``entrepot validate --connect``: each configured target opened for real, ✓ or ✗ each.

A target that answers passes; a wrong password and a port nobody listens on
fail with their reason, the exit code is 3, and no password reaches the
output (table or JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers._common import free_port
from tests.servers.ftp import FTPFolder

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]

CONFIG = """\
[service]
state = "state"

[spools.outbox]
path = "outbox"

[targets.partner]
url = "{url}"
password_env = "PARTNER_PW"

[targets.wrong-password]
url = "{url}"
password_env = "WRONG_PW"

[targets.nobody-home]
url = "ftp://test@127.0.0.1:{closed}/in"
password_env = "PARTNER_PW"
options = {{ timeout = 5 }}

[routes.to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
"""


def _validate(config: Path, *more: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrepot", "validate", str(config), "--connect", *more],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_connect_checks_every_target_and_says_which_failed(
    ftp_server: FTPFolder, tmp_path: Path
) -> None:
    config = tmp_path / "entrepot.toml"
    config.write_text(CONFIG.format(url=ftp_server.url, closed=free_port()))
    env = {
        **os.environ,
        "PARTNER_PW": ftp_server.password,
        "WRONG_PW": "not-the-password-7731",
    }

    done = _validate(config, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("✓ partner ") for line in lines), done.stdout
    wrong = next(line for line in lines if line.startswith("✗ wrong-password "))
    assert "AuthenticationFailed" in wrong
    closed = next(line for line in lines if line.startswith("✗ nobody-home "))
    assert "ConnectionFailed" in closed
    for secret in (ftp_server.password, "not-the-password-7731"):
        assert secret not in done.stdout + done.stderr

    as_json = _validate(config, "--json", env=env)
    assert as_json.returncode == 3
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["problems"] == []
    verdicts = {check["name"]: check["ok"] for check in report["targets"]}
    assert verdicts == {"partner": True, "wrong-password": False, "nobody-home": False}
    assert ftp_server.password not in as_json.stdout

    # With the bad targets gone, the same check passes.
    good = CONFIG.split("[targets.wrong-password]")[0] + "[routes" + CONFIG.split("[routes")[1]
    config.write_text(good.format(url=ftp_server.url))
    passed = _validate(config, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "✓ partner " in passed.stdout and "ok — 1 targets" in passed.stdout
