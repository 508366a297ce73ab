"""A file replaced whole (``durable.replacing``) keeps the permissions of the one it
replaces.

``entrepot receipt -o receipt.csv`` over a receipt kept private (0600) left a file
readable by everyone (0644): the new file is written under a temporary name and
renamed over the old one, and took the process's default mode.  It now takes the
old file's; a new file, or a link replaced, has the default as before.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from entrepot.durable import output_text, replacing


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_private_file_stays_private_when_replaced(tmp_path: Path) -> None:
    kept = tmp_path / "receipt.csv"
    kept.write_text("old")
    kept.chmod(0o600)
    with output_text(kept) as out:
        out.write("new")
    assert kept.read_text() == "new" and _mode(kept) == 0o600
    kept.chmod(0o640)
    with replacing(kept) as raw:
        raw.write(b"newer")
    assert kept.read_bytes() == b"newer" and _mode(kept) == 0o640


def test_a_new_file_and_a_replaced_link_take_the_default_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "new.csv"
        with replacing(fresh) as raw:
            raw.write(b"x")
        secret = tmp_path / "secret"
        secret.write_text("s")
        secret.chmod(0o600)
        link = tmp_path / "link.csv"
        link.symlink_to(secret)
        with replacing(link) as raw:
            raw.write(b"y")
    finally:
        os.umask(umask)
    assert _mode(fresh) == 0o644
    assert not link.is_symlink() and _mode(link) == 0o644 and secret.read_text() == "s"
