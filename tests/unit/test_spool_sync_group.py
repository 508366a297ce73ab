"""Claims finished in a :class:`SyncGroup`: moved at once, their folder synced for many.

What a group promises: each file is in its area as soon as it is finished
(the move is never held back), the folders are synced when the group holds
``max_files`` unsynced moves, when its oldest move is ``max_delay`` old, and
when it ends — and a process killed half-way through a group loses nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from entrepot.spool import Spool
from entrepot.spool.areas import FolderDescriptors, SyncGroup


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "outbox").prepare()


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders synced, in order (the syncs still happen)."""
    calls: list[str] = []
    real = FolderDescriptors.fsync

    def fsync(self: FolderDescriptors, folder: str) -> None:
        calls.append(os.path.basename(folder))
        real(self, folder)

    monkeypatch.setattr(FolderDescriptors, "fsync", fsync)
    return calls


def fill(spool: Spool, count: int) -> list[str]:
    names = [f"f{number:03}.bin" for number in range(count)]
    with spool.batch() as batch:
        for name in names:
            batch.add_bytes(name.encode(), name)
    return names


def test_files_move_at_once_and_the_folder_is_synced_when_the_group_ends(
    spool: Spool, synced: list[str]
) -> None:
    names = fill(spool, 20)
    synced.clear()
    with SyncGroup(spool.areas) as group:
        for name in names:
            claim = spool.claim(name)
            assert claim is not None
            claim.done(group=group)
            assert name in spool.names("cur")  # moved now, not at the end
        assert synced == []
    assert synced == ["cur"]
    assert spool.names("new") == [] and spool.names("claimed") == []
    assert sorted(spool.names("cur")) == names


def test_a_group_syncs_every_max_files_moves(spool: Spool, synced: list[str]) -> None:
    names = fill(spool, 7)
    synced.clear()
    with SyncGroup(spool.areas, max_files=3, max_delay=3600) as group:
        for name in names:
            claim = spool.claim(name)
            assert claim is not None
            claim.done(group=group)
        assert synced == ["cur", "cur"]  # after the 3rd and the 6th
    assert synced == ["cur"] * 3  # the 7th, when the group ends


def test_a_group_syncs_once_its_oldest_move_is_max_delay_old(
    spool: Spool, synced: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = fill(spool, 3)
    synced.clear()
    now = [1000.0]
    monkeypatch.setattr(
        "entrepot.spool.areas.time", types.SimpleNamespace(monotonic=lambda: now[0])
    )
    group = SyncGroup(spool.areas, max_files=100, max_delay=0.5)
    for name, seconds in zip(names, (0.0, 0.4, 0.2), strict=True):
        now[0] += seconds
        claim = spool.claim(name)
        assert claim is not None
        claim.done(group=group)
    # The third move came 0.6 s after the first: the group was synced then.
    assert synced == ["cur"]
    group.flush()
    assert synced == ["cur"]  # nothing left to sync


def test_a_group_syncs_each_area_it_moved_files_into(spool: Spool, synced: list[str]) -> None:
    names = fill(spool, 4)
    synced.clear()
    with SyncGroup(spool.areas) as group:
        for number, name in enumerate(names):
            claim = spool.claim(name)
            assert claim is not None
            claim.done("archive" if number % 2 else "cur", group=group)
    assert sorted(synced) == ["archive", "cur"]


def test_a_non_durable_spool_is_never_synced(tmp_path: Path, synced: list[str]) -> None:
    spool = Spool(tmp_path / "fast", durable=False).prepare()
    names = fill(spool, 5)
    with SyncGroup(spool.areas, max_files=2) as group:
        for name in names:
            claim = spool.claim(name)
            assert claim is not None
            claim.done(group=group)
    assert synced == []
    assert sorted(spool.names("cur")) == names


def test_threads_share_a_group(spool: Spool, synced: list[str]) -> None:
    names = fill(spool, 400)
    synced.clear()

    def work() -> None:
        for claim in spool.claims():
            claim.done(group=group)

    with SyncGroup(spool.areas, max_files=50, max_delay=3600) as group:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(spool.names("cur")) == names
    assert spool.names("claimed") == []
    # Every 50 moves, and the rest at the end; a sync never runs per file.
    assert 1 <= len(synced) <= 9


# The child claims and finishes files in a group that is never synced, says
# how many it moved, and waits to be killed.
CHILD = r"""
import sys, time
from entrepot.spool import Spool
from entrepot.spool.areas import SyncGroup

spool = Spool(sys.argv[1])
group = SyncGroup(spool.areas, max_files=10**9, max_delay=10**9)
half = int(sys.argv[2])
for count, claim in enumerate(spool.claims(limit=half), start=1):
    claim.done(group=group)
# One more claimed, not finished: killed while holding it.
held = spool.claim()
print(count, held.name, flush=True)
time.sleep(60)
"""


def test_a_process_killed_in_the_middle_of_a_group_loses_nothing(spool: Spool) -> None:
    names = fill(spool, 60)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spool.root), "30"], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    moved, held = child.stdout.readline().decode().split()
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert int(moved) == 30
    # The unsynced moves are where the kernel put them; the held claim comes back.
    assert len(spool.names("cur")) == 30
    assert spool.names("claimed") != []
    spool.recover()
    cur, new = spool.names("cur"), spool.names("new")
    assert held in new
    assert sorted(cur + new) == names  # every file once, none lost, none twice
    for name in names:
        area = "cur" if name in cur else "new"
        assert spool.path(area, name).read_bytes() == name.encode()
