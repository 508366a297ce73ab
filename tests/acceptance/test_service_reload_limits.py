"""What a reload cannot change, and a start that cannot happen, told as such (real ``serve``).

``reload`` asks the service that runs a file to re-read it: another file is
refused (the service would re-read its own).  The state folder, the ledger
and the HTTP endpoint — its address, its token files and the tokens in them
— are read once at the start: a reload that changes one is refused with
"restart", and the service keeps its configuration.  A state folder whose
place a file takes stops ``serve`` with exit 3 and words, not an errno.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration._service import Service
from tests.one_route import one_route

SERVICE = """\
grace = "5s"
scan_every = "1s"
listen = "127.0.0.1:0"
token_file = "token"
"""


def _entrepot(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )


def _setup(tmp_path: Path) -> Path:
    (tmp_path / "dest").mkdir()
    token = tmp_path / "token"
    token.write_text("first-long-random-token\n")
    token.chmod(0o600)
    config = tmp_path / "entrepot.toml"
    config.write_text(one_route(tmp_path, service=SERVICE))
    return config


def test_a_reload_of_another_file_is_refused(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(config.read_text() + '\n[routes.r2]\nspool = "out"\ntarget = "dest"\n'
                     'every = "1m"\n')  # fmt: skip
    service = Service(config)
    try:
        service.start()
        done = _entrepot("reload", "--config", other)
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"runs {config}, not {other}" in done.stderr
        assert "reload_refused" not in service.log() and "service.reloaded" not in service.log()
        # Its own file, under another name for it, is its own file.
        (tmp_path / "link.toml").symlink_to(config)
        done = _entrepot("reload", "--config", tmp_path / "link.toml")
        assert done.returncode == 0 and "configuration 2 in use" in done.stdout, done.stderr
        assert service.stop() == 0
    finally:
        service.close()


def test_what_only_a_restart_changes_is_refused_by_a_reload(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    good = config.read_text()
    service = Service(config)
    try:
        service.start()
        # The endpoint's log line says whether it asks for a token, without masking a word.
        assert "access=token" in service.log()
        for old, new, key in [
            ('listen = "127.0.0.1:0"', 'listen = "localhost:0"', "service.listen"),
            ('token_file = "token"', 'token_file = "token2"', "service.token_file"),
            ('token_file = "token"', 'token_file = "token"\nviewer_token_file = "token"',
             "service.viewer_token_file"),
        ]:  # fmt: skip
            token2 = tmp_path / "token2"
            token2.write_text("second-long-random-token\n")
            token2.chmod(0o600)
            config.write_text(good.replace(old, new))
            done = _entrepot("reload", "--config", config)
            assert done.returncode == 3, done.stdout + done.stderr
            assert f"{key}: cannot change while the service runs" in done.stderr
            assert "restart the service" in done.stderr
        # The same file with another token in it: the old token would stay valid.
        config.write_text(good)
        (tmp_path / "token").write_text("rotated-long-random-token\n")
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 3 and "service.token_file: cannot change" in done.stderr
        assert "configuration 1 stays in use" in done.stderr
        # Another state folder: no service runs there, and a reload cannot move it.
        config.write_text(good.replace('state = "state"', 'state = "state2"'))
        done = _entrepot("reload", "--config", config)
        assert done.returncode == 4, done.stdout + done.stderr
        assert "state folder cannot change by a reload" in done.stderr
        assert not (tmp_path / "state2").exists()
        assert service.stop() == 0
    finally:
        service.close()


def test_an_endpoint_without_a_token_is_logged_open(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    config.write_text(config.read_text().replace('token_file = "token"\n', ""))
    service = Service(config)
    try:
        service.start()
        service.wait_for("http.listening")
        assert "access=open" in service.log() and "token=" not in service.log()
        assert service.stop() == 0
    finally:
        service.close()


def test_a_state_folder_that_is_a_file_stops_serve_with_words(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    (tmp_path / "state").write_text("not a folder\n")
    done = _entrepot("serve", "--config", config)
    assert done.returncode == 3, done.stderr
    assert "state folder" in done.stderr and "a file is in the way" in done.stderr
    assert "Errno" not in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "state").read_text() == "not a folder\n"
