"""Configured names as a careless (or hostile) command line gives them.

Issue 13 (configuration names), in the spirit of issue 10's hostile tests:

* a sub-folder below a configured target cannot climb out of it
  (``partner/../other``), nor can a ``file://`` URL — also percent-encoded
  (``partner/%2e%2e/other``), for ``ls``, ``put``, ``get``, ``check`` and
  ``ship``: a configuration error, nothing opened, nothing written;
* a name holding control characters or rich markup is printed escaped,
  never interpreted by the terminal;
* a password file others may read is refused for a configured target as
  for a command-line one (exit 3), and its content is never printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.spool import Spool


def entrepot(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")}
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**env, "ENTREPOT_CONFIG": str(cwd / "entrepot.toml"), "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    remote = tmp_path / "remote"
    (remote / "in").mkdir(parents=True)
    (remote / "outside").mkdir()
    (remote / "outside" / "private.txt").write_text("not the target's\n")
    (tmp_path / "secret.txt").write_text("Leaky-Pw-5521\n")
    (tmp_path / "secret.txt").chmod(0o644)
    (tmp_path / "entrepot.toml").write_text(
        f'[targets.partner]\nurl = "{remote.as_uri()}/in"\n\n'
        f'[targets.leaky]\nurl = "ftp://bob@127.0.0.1:1/in"\npassword_file = "secret.txt"\n'
    )
    return tmp_path


def test_a_sub_folder_cannot_climb_out_of_its_target(site: Path) -> None:
    done = entrepot("ls", "partner/../..", cwd=site)
    assert done.returncode == 3, done.stderr
    assert "'..'" in done.stderr and "Traceback" not in done.stderr


CLIMB = "partner/%2e%2e/outside"


@pytest.mark.parametrize(
    "args",
    [("ls", CLIMB), ("check", CLIMB), ("put", "report.csv", CLIMB),
     ("get", f"{CLIMB}/private.txt", "copy.txt"), ("ship", "outbox", CLIMB),
     ("ship", "outbox", "partner/x%2F..%2F..%2Foutside"),
     ("ls", "{remote}/in/%2e%2e/outside"), ("put", "report.csv", "{remote}/in/%2E%2E/outside")],
    ids=["ls", "check", "put", "get", "ship", "ship-slash", "ls-url", "put-url"],
)  # fmt: skip
def test_a_percent_encoded_climb_is_refused_before_anything_is_opened(
    site: Path, args: tuple[str, ...]
) -> None:
    (site / "report.csv").write_text("a,b\n")
    Spool(site / "outbox").prepare().publish_bytes(b"x", "queued.csv")
    uri = (site / "remote").as_uri()
    done = entrepot(*(arg.replace("{remote}", uri) for arg in args), cwd=site)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "'..'" in done.stderr and "Traceback" not in done.stderr
    assert "private.txt" not in done.stdout
    assert sorted(os.listdir(site / "remote" / "outside")) == ["private.txt"]
    assert not (site / "copy.txt").exists() and Spool(site / "outbox").names() == ["queued.csv"]


def test_control_characters_and_markup_in_a_name_are_shown_escaped(site: Path) -> None:
    done = entrepot("ls", "partner\x1b[31m[bold]x", cwd=site)
    assert done.returncode in (3, 4), done.stderr
    assert "\x1b" not in done.stderr and "\\x1b" in done.stderr


def test_a_readable_password_file_is_refused_for_a_configured_target(site: Path) -> None:
    done = entrepot("check", "leaky", cwd=site)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Leaky-Pw-5521" not in done.stdout + done.stderr
