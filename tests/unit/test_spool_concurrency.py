"""Many consumers, one spool: every file is handled exactly once."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from entrepot.spool import Spool

FILES = 5_000
CONSUMERS = 8


def consume(root: str, out: str) -> None:
    """Claim until new/ is empty; write every claimed name to ``out``."""
    spool = Spool(root, durable=False)
    names = []
    for claim in spool.claims():
        names.append(claim.name)
        claim.done()
    Path(out).write_text("\n".join(names))


def fill(root: Path, count: int) -> set[str]:
    spool = Spool(root, durable=False).prepare()
    with spool.batch() as batch:
        for number in range(count):
            batch.add_bytes(b"%d" % number, f"file-{number:05d}")
    return set(spool.names())


@pytest.mark.slow
def test_eight_processes_claim_each_file_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    expected = fill(root, FILES)
    assert len(expected) == FILES
    context = multiprocessing.get_context("spawn")
    outputs = [tmp_path / f"consumer-{n}.txt" for n in range(CONSUMERS)]
    workers = [context.Process(target=consume, args=(str(root), str(out))) for out in outputs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0
    claimed = Counter(name for out in outputs for name in out.read_text().splitlines() if name)
    assert sum(claimed.values()) == FILES
    assert set(claimed) == expected
    assert max(claimed.values()) == 1
    spool = Spool(root)
    assert spool.names("new") == [] and spool.names("claimed") == []
    assert set(spool.names("cur")) == expected


def test_threads_claim_each_file_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    expected = fill(root, 1_000)
    results: list[list[str]] = [[] for _ in range(CONSUMERS)]

    def work(mine: list[str]) -> None:
        for claim in Spool(root, durable=False).claims():
            mine.append(claim.name)
            claim.done()

    threads = [threading.Thread(target=work, args=(mine,)) for mine in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [name for mine in results for name in mine]
    assert len(everything) == len(set(everything)) == 1_000
    assert set(everything) == expected


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_one_spool_shared_by_threads_syncs_only_live_folder_descriptors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers of one shipper share one Spool: its folder descriptors are opened once per
    folder, never synced after being closed, and all closed in the end."""
    spool = Spool(tmp_path / "spool").prepare()
    real_fsync = os.fsync
    bad: list[int] = []

    def checked_fsync(fd: int) -> None:
        try:
            os.fstat(fd)
        except OSError:
            bad.append(fd)  # a closed descriptor: the sync would not happen
            raise
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", checked_fsync)
    # Garbage of earlier tests in this process (an engine, a connection) would close
    # its descriptors during this one: collected first, so the count is this test's.
    gc.collect()
    before = _open_descriptors()
    stop = threading.Event()

    def publish(worker: int) -> None:
        for number in range(150):
            spool.publish_bytes(b"x", f"w{worker}-{number:03d}")
            claim = spool.claim(f"w{worker}-{number:03d}")
            assert claim is not None
            claim.done()

    def keep_closing() -> None:
        while not stop.is_set():
            spool.close()

    closer = threading.Thread(target=keep_closing)
    workers = [threading.Thread(target=publish, args=(n,)) for n in range(6)]
    closer.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    closer.join()
    spool.close()
    assert bad == []
    assert len(spool.names("cur")) == 900 and spool.names("claimed") == []
    # Nothing leaked by two threads opening one folder.  (Fewer is another test's: a
    # thread it left behind may close a descriptor of its own meanwhile.)
    assert _open_descriptors() <= before


def test_concurrent_first_syncs_leak_no_descriptor(tmp_path: Path) -> None:
    before = _open_descriptors()
    for round_ in range(20):
        spool = Spool(tmp_path / f"spool-{round_}").prepare()
        start = threading.Barrier(8)

        def first_publish(
            number: int, spool: Spool = spool, start: threading.Barrier = start
        ) -> None:
            start.wait()
            spool.publish_bytes(b"x", f"f{number}")

        threads = [threading.Thread(target=first_publish, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        spool.close()
    assert _open_descriptors() == before
