"""Recovery of abandoned archives never works through a link: a symbolic link named like an
open archive — to an archive of another folder, which recovery would otherwise cut, seal and
hand on to a spool — or a FIFO under such a name is left as it is, and the other archives
of the folder are recovered all the same."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from entrepot.archive import RollingWriter
from tests.unit.test_archive_rolling import abandoned, payloads


def test_a_link_named_like_an_open_archive_is_never_recovered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    theirs = abandoned(elsewhere, "t-0.events", 3)  # another series' archive, still open
    before = theirs.read_bytes()
    mine = tmp_path / "mine"
    mine.mkdir()
    own = abandoned(mine, "m-0.events", 2)
    (mine / "m-1.events.open").symlink_to(theirs)
    RollingWriter(mine, "m-{seq}.events").close()
    assert "m-1.events.open is a symbolic link; left as it is" in caplog.text
    assert theirs.read_bytes() == before  # not cut, not sealed
    assert (mine / "m-1.events.open").is_symlink()
    assert not own.exists() and payloads(mine, "m-0.events") == ["event 0", "event 1"]


def test_a_fifo_named_like_an_open_archive_does_not_hang_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.mkfifo(tmp_path / "f-0.events.open")
    done = threading.Event()

    def recover() -> None:
        RollingWriter(tmp_path, "f-{seq}.events").close()
        done.set()

    threading.Thread(target=recover, daemon=True).start()
    assert done.wait(30), "recovery blocked on a FIFO"
    assert "f-0.events.open is not a regular file; left as it is" in caplog.text
