"""What an SFTP peer says reaches the terminal only through our own words, escaped.

* paramiko's own log lines (a traceback from its transport thread when the
  deadline hangs up a silent peer, the banner a peer sent) never reach
  standard error through Python's last-resort handler: the command prints
  its one error line, ``-q`` shows nothing else, and no escape sequence a
  peer sent is printed raw.

(A file name that is not UTF-8: ``test_targets_names_not_utf8.py``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile._shipping import entrepot

pytestmark = pytest.mark.server


# -- paramiko's own lines ------------------------------------------------------------------

BANNER = b"SSH-\x1b]0;pwned-title\x07\x1b[31mRED-TEXT\x1b[0m-9.9-x\r\n"


def _ls(port: int, tmp_path: Path, *flags: str) -> Any:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.touch()
    url = f"sftp://u@127.0.0.1:{port}/in"
    return entrepot(*flags, "ls", url, "--password-env", "PW", "-o",
                    f"known_hosts={known_hosts}", "--timeout", "2", env={"PW": "pw"})  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize("opening", [b"", b"SSH-2.0-", BANNER], ids=["silent", "drip", "escapes"])
@pytest.mark.parametrize("flags", [(), ("-q",)], ids=["default", "quiet"])
def test_a_peer_cut_off_gets_one_error_line_and_no_raw_text(
    dripping_peer: Callable[..., int], tmp_path: Path, opening: bytes, flags: tuple[str, ...]
) -> None:
    port = dripping_peer(opening, every=0.5)
    done = _ls(port, tmp_path, *flags)
    assert done.returncode == 5, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "\x1b" not in done.stderr
    assert "Traceback" not in done.stderr
