"""The service as an operator runs it: ``init``, ``validate``, ``serve``, ``reload`` as processes.

``init`` then ``validate`` then ``serve`` on the starter configuration
delivers a file; ``serve`` tells systemd READY/RELOADING/STOPPING through
``NOTIFY_SOCKET``, logs JSON lines when asked, and ``reload`` answers with
the service's verdict.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from entrepot.spool import Spool
from tests.integration._service import Service
from tests.servers._common import wait_until


def _entrepot(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=60,
        check=False,
    )


def test_init_validate_serve_delivers_a_file(tmp_path: Path) -> None:
    config = tmp_path / "svc" / "entrepot.toml"
    done = _entrepot("init", config)
    assert done.returncode == 0, done.stderr
    done = _entrepot("validate", "--config", config)
    assert done.returncode == 0, done.stderr + done.stdout
    service = Service(config)
    try:
        service.start()
        Spool(tmp_path / "svc" / "outbox").publish_bytes(b"hello\n", "hello.txt")
        delivered = tmp_path / "svc" / "delivered" / "hello.txt"
        wait_until(delivered.exists, timeout=60, what="delivery")
        assert delivered.read_bytes() == b"hello\n"
        service.wait_for("service.run_finished route=outbox-to-local")
        assert "outcome=succeeded files=1" in service.log()
        assert service.stop() == 0
    finally:
        service.close()
    assert Spool(tmp_path / "svc" / "outbox").names("cur") == ["hello.txt"]


def test_systemd_notifications_json_logs_and_reload(tmp_path: Path) -> None:
    config = tmp_path / "entrepot.toml"
    assert _entrepot("init", config).returncode == 0
    config.write_text(config.read_text().replace('log_format = "text"', 'log_format = "json"'))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    service = Service(config, {"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    try:
        service.start(ready=False)
        assert notify.recv(4096).startswith(b"READY=1")
        service.wait_for('"service.ready"')
        lines = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
        ready = next(line for line in lines if line.get("event") == "service.ready")
        assert ready["level"] == "info" and ready["ts"].endswith("Z") and ready["routes"] == 1

        # A broken file: reload says what is wrong and leaves the service alone (exit 3).
        good = config.read_text()
        config.write_text(good.replace("grace =", "grase ="))
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 3, done.stderr
        assert "did you mean 'grace'" in done.stderr
        # A file the service's environment cannot run: the service refuses it, and says so.
        extra = '\n[targets.other]\nurl = "ftp://u@127.0.0.1/x"\npassword_env = "UNSET_PW_VAR"\n'
        config.write_text(good + extra)
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 3, done.stderr
        assert "UNSET_PW_VAR is not set" in done.stderr and "configuration 1 stays" in done.stderr
        assert b"RELOADING=1" in notify.recv(4096)
        assert notify.recv(4096).startswith(b"READY=1")
        service.wait_for('"service.reload_refused"')
        config.write_text(good)
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 0, done.stderr
        assert "configuration 2 in use" in done.stdout

        assert service.stop() == 0
        messages = b""
        while b"STOPPING=1" not in messages:
            messages += notify.recv(4096)
    finally:
        service.close()
        notify.close()
    done = _entrepot("reload", "--config", config)
    assert done.returncode == 4 and "no service runs" in done.stderr


def test_a_reload_whose_new_spool_cannot_be_made_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "entrepot.toml"
    assert _entrepot("init", config).returncode == 0
    good = config.read_text()
    service = Service(config)
    try:
        service.start()
        # Valid as a file, but the folder can never be made: refused, the service stays.
        config.write_text(good + '\n[spools.impossible]\npath = "/proc/no/such/spool"\n')
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 3, done.stdout + done.stderr
        service.wait_for("service.reload_refused")
        assert "/proc/no/such/spool" in service.log()
        assert service.proc is not None and service.proc.poll() is None
        # Still at work on the configuration it had.
        Spool(tmp_path / "outbox").publish_bytes(b"still here\n", "after.txt")
        delivered = tmp_path / "delivered" / "after.txt"
        wait_until(delivered.exists, timeout=60, what="delivery after the refused reload")
        assert service.stop() == 0
    finally:
        service.close()


def test_an_endpoint_address_in_use_fails_the_start_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "entrepot.toml"
    assert _entrepot("init", config).returncode == 0
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    token = tmp_path / "token"
    token.write_text("t0ken-for-the-test\n")
    token.chmod(0o600)
    text = config.read_text().replace(
        "[service]\n", f'[service]\nlisten = "127.0.0.1:{port}"\ntoken_file = "{token}"\n', 1
    )
    config.write_text(text)
    Spool(tmp_path / "outbox").publish_bytes(b"waits\n", "waits.txt")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.5)
    service = Service(config, {"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    try:
        service.start(ready=False)
        assert service.wait(60) == 3
        log = service.log()
        assert "service.ready" not in log and "service.stopped" in log
        messages = b""
        try:
            while True:
                messages += notify.recv(4096)
        except TimeoutError:
            pass
        assert b"READY=1" not in messages  # systemd never heard of a service that was not there
        assert not (tmp_path / "state" / "service.json").exists()
        # Nothing was taken: the file waits in new/ for a service that can start.
        assert Spool(tmp_path / "outbox").names() == ["waits.txt"]
    finally:
        service.close()
        notify.close()
        taken.close()


def test_a_configurations_problems_are_told_a_line_each_escaped(tmp_path: Path) -> None:
    config = tmp_path / "entrepot.toml"
    assert _entrepot("init", config).returncode == 0
    # A file where the configuration's folder should be is told as that, not as "exists".
    inside = _entrepot("init", config / "again.toml")
    assert inside.returncode == 3 and f"cannot make the folder {config}: a file" in inside.stderr
    text = config.read_text().replace("runs = 8 ", "runs = 0 ")
    text = text.replace("parallel = 2 ", "parallel = 99 ")
    config.write_text(text + '\n[spools."in\\nbox\\u001b[2J"]\npath = 5\n')
    done = _entrepot("serve", "--config", config)
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert lines[0] == "error: 3 problem(s) in the configuration:", done.stderr
    assert len(lines) == 4 and all(line.startswith(f"  {config}:") for line in lines[1:])
    assert any("service.backlog.runs" in line for line in lines)
    assert any("parallel: Input should be less than or equal to 64" in line for line in lines)
    # A name's line break and escape stay text on their line: no forged line, no control.
    assert any("in\\nbox\\x1b[2J" in line for line in lines) and "\x1b" not in done.stderr
    assert "\\n  " not in done.stderr  # lines, not one line with \n in it
