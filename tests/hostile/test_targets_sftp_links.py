"""Symbolic links in an SFTP folder are never followed, as in a ``file://`` folder.

A link is left out of listings (``targets.symlink_skipped``), whatever it
points to — a file of the folder, a file outside it, a folder, nothing — and
naming one to ``stat``, ``download`` or ``read_bytes`` is a refusal (exit 6),
never the content of what it points to.  So ``fetch`` brings the folder's own
files and leaves the links alone, run after run.

Against both SFTP servers of the suite: asyncssh's and OpenSSH's sshd.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import PermissionDenied
from tests.hostile._shipping import entrepot

pytestmark = pytest.mark.server

SERVERS = ["sftp_server", "sshd_server"]
LINKS = ["link.csv", "outside.csv", "dirlink", "dangling.csv"]


def _folder_with_links(root: Path, outside: Path) -> None:
    """``real.csv`` and ``sub/`` of the folder's own; links to them, to a file outside
    the folder and to nothing."""
    (root / "real.csv").write_bytes(b"real\n")
    (root / "sub").mkdir()
    outside.write_bytes(b"secret from outside the folder\n")
    (root / "link.csv").symlink_to("real.csv")
    (root / "outside.csv").symlink_to(outside)
    (root / "dirlink").symlink_to("sub")
    (root / "dangling.csv").symlink_to("missing.csv")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    server = request.getfixturevalue(request.param)
    _folder_with_links(server.root, tmp_path / "secret.txt")
    return server


@pytest.mark.timeout(60)
def test_links_are_left_out_of_listings_and_logged(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with server.open() as target:
        listed = [(entry.name, entry.is_dir) for entry in target.list()]
    assert listed == [("real.csv", False), ("sub", True)]
    skipped = [
        r.getMessage() for r in caplog.records if "targets.symlink_skipped" in r.getMessage()
    ]
    assert len(skipped) == len(LINKS)
    assert all(any(f"name={name}" in line for line in skipped) for name in LINKS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["link.csv", "outside.csv", "dirlink"])
def test_a_link_is_never_followed_to_read(server: Any, name: str, tmp_path: Path) -> None:
    with server.open() as target:
        with pytest.raises(PermissionDenied, match="symbolic link"):
            target.stat(name)
        with pytest.raises(PermissionDenied, match="symbolic link"):
            target.read_bytes(name)
        with pytest.raises(PermissionDenied, match="symbolic link"):
            target.download(name, tmp_path / "got")
        assert target.read_bytes("real.csv") == b"real\n"
    assert not (tmp_path / "got").exists()


@pytest.mark.timeout(120)
def test_fetch_brings_the_folders_own_files_and_leaves_links_alone(
    server: Any, tmp_path: Path
) -> None:
    spool, state = tmp_path / "inbox", tmp_path / "state"
    args = ("fetch", server.url, spool, "--state", state, "--password-env", "SFTP_PW",
            "-o", f"known_hosts={server.known_hosts}")  # fmt: skip
    env = {"SFTP_PW": server.password}
    done = entrepot(*args, "--create", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["real.csv"]
    assert (spool / "new" / "real.csv").read_bytes() == b"real\n"
    # The links are where they were; a second run has nothing to do and succeeds too.
    assert sorted(p.name for p in server.root.iterdir()) == sorted([*LINKS, "sub"])
    again = entrepot(*args, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["real.csv"]
