"""Many consumers, one spool: every file is handled exactly once."""

from __future__ import annotations

import multiprocessing
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
