"""What provenance's per-file steps cost beside transfers, in the threads that make them.

    .venv/bin/python bench/provenance_threads.py [--files 2000] [--rounds 12]

Four threads copy ``--files`` files of 4 KiB into a folder as a shipment
to a local folder does (open, write, fsync, rename), and, on the sides
that record, take each file's provenance steps through a real
:class:`~entrepot.ship.trail.Trail` and
:class:`~entrepot.provenance.Recorder` (a ledger and a journal in
``bench/.work``): the claim, the delivery with its journal line, the move
settled.  The sides take turns:

* ``off``: the copies alone;
* ``on``: every step;
* ``no line``: every step but the journal line (its write replaced by nothing);
* ``trail only``: the trail's own work, the recorder's calls replaced by nothing.

Each prints the median, over the rounds after the first, of the copies'
time and of the process's user and system time.  The run's commit is
left out (timed apart, after the copies).  Beside it, the same steps
timed in one thread with nothing else going on.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from entrepot.db import make_engine
from entrepot.provenance import Recorder
from entrepot.provenance.events import FileHistory
from entrepot.ship.trail import Trail
from entrepot.targets.info import RemoteInfo
from harness import scratch

SIDES = ("off", "on", "no line", "trail only")
_CHECKSUM = "sha256:" + "ab" * 32


def trail_for(side: str, engine: Any, base: Path, names: list[str]) -> Trail | None:
    """A trail recording into a fresh recorder, with each file's receipt known (as after
    ``spool put``), its steps cut as ``side`` says; None for ``off``."""
    if side == "off":
        return None
    recorder = Recorder(engine, state_dir=base, job_id="bench")
    recorder.attempt = 1
    trail = Trail(str(base / "spool"), "file:///bench/drop", recorder)
    trail._known = {name: FileHistory(_CHECKSUM, 0) for name in names}
    journal: Any = recorder._journal
    if side == "no line":
        journal.write_delivery = lambda *args: None
    elif side == "trail only":
        recorder.deliver = lambda *args: 0  # type: ignore[method-assign]
        recorder.settle = lambda *args, **kwargs: None  # type: ignore[method-assign]
    return trail


def after_copy(trail: Trail, local: Any, claim: Any, info: RemoteInfo) -> None:
    """A file's steps once it is copied: its checksum, its delivery (with its journal
    line), its move settled."""
    local = trail.summed(local, None)
    ticket = trail.delivered(claim, info.name, info, local, "cur", key=f"/drop/{info.name}")
    trail.settled(ticket)


def one_round(side: str, engine: Any, base: Path, names: list[str]) -> tuple[float, ...]:
    """The copies' time, user and system seconds of one side's round."""
    drop = base / "drop"
    shutil.rmtree(drop, ignore_errors=True)
    drop.mkdir()
    trail = trail_for(side, engine, base, names)
    sources = base / "sources"

    def ship(name: str) -> None:
        local = trail.claimed(name, 4096) if trail is not None else None
        data = (sources / name).read_bytes()
        part = drop / f".{name}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(part, drop / name)
        claim = SimpleNamespace(name=name, file=f"{base}/spool/claimed/t-{name}")
        info = RemoteInfo(name, 4096)
        if trail is not None:
            after_copy(trail, local, claim, info)

    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ship, names))
    elapsed, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    if trail is not None and trail.recorder is not None:
        trail.recorder.close()
    return elapsed, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def alone(engine: Any, base: Path, names: list[str]) -> float:
    """Microseconds per file of the same steps in one thread, nothing else going on."""
    trail = trail_for("on", engine, base, names)
    assert trail is not None and trail.recorder is not None
    claims = [SimpleNamespace(name=n, file=f"{base}/spool/claimed/t-{n}") for n in names]
    infos = [RemoteInfo(n, 4096) for n in names]
    started = time.perf_counter()
    for name, claim, info in zip(names, claims, infos, strict=True):
        after_copy(trail, trail.claimed(name, 4096), claim, info)
    elapsed = time.perf_counter() - started
    trail.recorder.close()
    return elapsed / len(names) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    base = scratch("provenance-threads")
    names = [f"f{number:05}.bin" for number in range(args.files)]
    (base / "sources").mkdir()
    for name in names:
        (base / "sources" / name).write_bytes(os.urandom(4096))
    engine = make_engine(f"sqlite:///{base / 'ledger.sqlite3'}", purpose="ledger")
    found: dict[str, list[tuple[float, ...]]] = {side: [] for side in SIDES}
    for number in range(args.rounds + 1):
        for side in SIDES[number % len(SIDES) :] + SIDES[: number % len(SIDES)]:
            measured = one_round(side, engine, base, names)
            if number:  # the first round warms up
                found[side].append(measured)
    print(f"{args.files} files of 4 KiB, 4 threads, medians of {args.rounds} rounds:")
    print(f"  {'side':12} {'copies':>9} {'user':>9} {'system':>9}")
    for side in SIDES:
        cells = [statistics.median(values) * 1000 for values in zip(*found[side], strict=True)]
        print(f"  {side:12} " + " ".join(f"{cell:6.1f} ms" for cell in cells))
    alone_us = statistics.median(alone(engine, base, names) for _ in range(5))
    print(f"the same steps alone, one thread: {alone_us:.1f} µs a file")


if __name__ == "__main__":
    main()
