"""Spool benchmark: Entrepôt against the physical floor and against gocept.filestore.

Run:  .venv/bin/python bench/bench_spool.py [--files 5000] [--rounds 5]

Three comparisons, each run side by side in the same process and rounds
(variants alternate inside every round, so machine noise hits both alike):

(a) durable publish + claim + done of N × 4 KiB files, against a plain loop
    doing the same system calls (open, write, fsync, close, rename into new/,
    fsync new/, rename to claimed/, rename to cur/, fsync cur/);
(b) non-durable publish + move to cur/, against gocept.filestore 1.0 from
    PyPI (create, write, close, move tmp→new→cur), installed into
    bench/.work/ on first run;
(c) batch publish against per-file durable publish.

Prints the medians and the ratios (higher is better for Entrepôt).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from entrepot.spool import Spool

WORK = Path(__file__).parent / ".work"
PAYLOAD = os.urandom(4096)
PACKAGE = ["gocept.filestore==1.0"]


def gocept_filestore() -> type:
    """Import gocept.filestore 1.0, installing it into bench/.work/ on first use."""
    target = WORK / "gocept-filestore"
    if not (target / "gocept" / "filestore").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *PACKAGE],
            check=True,
        )
    sys.path.insert(0, str(target))
    from gocept.filestore import FileStore  # type: ignore[import-not-found]

    return FileStore  # type: ignore[no-any-return]


# -- the variants: each takes an empty folder and the number of files ---------


def raw_durable(root: Path, count: int) -> None:
    for area in ("tmp", "new", "cur", "claimed"):
        (root / area).mkdir(parents=True)
    tmp, new, cur, claimed = (str(root / area) for area in ("tmp", "new", "cur", "claimed"))
    # Publish every file, then drain new/: the order the spool is used in.
    for number in range(count):
        name = f"f{number}"
        fd = os.open(f"{tmp}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, PAYLOAD)
        os.fsync(fd)
        os.close(fd)
        os.rename(f"{tmp}/{name}", f"{new}/{name}")
        dfd = os.open(new, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    for name in os.listdir(new):
        os.rename(f"{new}/{name}", f"{claimed}/{name}")
        os.rename(f"{claimed}/{name}", f"{cur}/{name}")
        dfd = os.open(cur, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)


def entrepot_durable(root: Path, count: int) -> None:
    spool = Spool(root).prepare()
    for number in range(count):
        spool.publish_bytes(PAYLOAD, f"f{number}")
    for claim in spool.claims():
        claim.done()


def entrepot_fast(root: Path, count: int) -> None:
    spool = Spool(root, durable=False).prepare()
    for number in range(count):
        name = spool.publish_bytes(PAYLOAD, f"f{number}")
        spool.move(name, "new", "cur")


def entrepot_fast_claims(root: Path, count: int) -> None:
    spool = Spool(root, durable=False).prepare()
    for number in range(count):
        spool.publish_bytes(PAYLOAD, f"f{number}")
    for claim in spool.claims():
        claim.done()


def make_gocept(file_store: type) -> Callable[[Path, int], None]:
    def gocept(root: Path, count: int) -> None:
        store = file_store(str(root))
        store.prepare()
        for number in range(count):
            name = f"f{number}"
            f = store.create(name, "wb")
            f.write(PAYLOAD)
            f.close()
            store.move(name, "tmp", "new")
            store.move(name, "new", "cur")

    return gocept


def entrepot_per_file(root: Path, count: int) -> None:
    spool = Spool(root).prepare()
    for number in range(count):
        spool.publish_bytes(PAYLOAD, f"f{number}")


def entrepot_batch(root: Path, count: int) -> None:
    spool = Spool(root).prepare()
    with spool.batch() as batch:
        for number in range(count):
            batch.add_bytes(PAYLOAD, f"f{number}")


# -- running ------------------------------------------------------------------


def warm_up(root: Path, count: int) -> None:
    """Create and rename ``count`` files, untimed, to settle the file system."""
    for area in ("tmp", "new"):
        (root / area).mkdir(parents=True)
    for number in range(count):
        path = root / "tmp" / f"w{number}"
        path.write_bytes(PAYLOAD)
        path.rename(root / "new" / path.name)


def run(
    variants: dict[str, Callable[[Path, int], None]], count: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU seconds per variant and round, variants alternating in each round.

    Each variant writes into a fresh folder; the folders are deleted only at
    the end of a round, followed by a sync and a pause, so that the file
    system's work of deleting one variant's files never lands in another's
    timing.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    base = Path(tempfile.mkdtemp(prefix="bench-spool-", dir=WORK))
    try:
        for round_number in range(rounds):
            order = list(variants.items())
            if round_number % 2:
                order.reverse()
            # The first folder written after a clean-up pays for the file system's
            # deferred work; an untimed warm-up takes that hit for both sides.
            warm_up(base / f"warm-up-{round_number}", count)
            for name, variant in order:
                folder = base / f"{name}-{round_number}"
                os.sync()
                start, start_cpu = time.perf_counter(), time.process_time()
                variant(folder, count)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
            for folder in list(base.iterdir()):
                shutil.rmtree(folder)
            os.sync()
            time.sleep(0.5)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return times, cpu


def paired_ratio(times: dict[str, list[float]], ours: str, theirs: str) -> tuple[float, str]:
    """The median of the per-round ratios, and their range.

    The two sides of a round run back to back, so the disk's slow and fast
    spells cancel out, which they do not in a ratio of medians over the run.
    """
    paired = [slow / fast for slow, fast in zip(times[theirs], times[ours], strict=True)]
    return statistics.median(paired), f"rounds {min(paired):.2f}-{max(paired):.2f}"


def report(
    title: str,
    measured: tuple[dict[str, list[float]], dict[str, list[float]]],
    ours: str,
    theirs: str,
    count: int,
    goal: float,
) -> None:
    """Print medians and both ratios: wall clock (waits included) and CPU time (work done)."""
    times, cpu = measured
    print(f"\n{title}")
    for name, values in times.items():
        seconds = statistics.median(values)
        print(
            f"  {name:<28} {seconds:8.3f} s   {count / seconds:10,.0f} files/s"
            f"   cpu {statistics.median(cpu[name]):6.3f} s"
        )
    for label, numbers in (("wall clock", times), ("cpu time", cpu)):
        ratio, spread = paired_ratio(numbers, ours, theirs)
        verdict = "meets" if ratio >= goal else "MISSES"
        print(f"  {label:<10} ratio: {ratio:.2f}x ({spread}; goal >= {goal}x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    python = sys.version.split()[0]
    print(f"{args.files} files of 4 KiB, {args.rounds} rounds, medians; Python {python}")

    times = run(
        {"entrepot durable": entrepot_durable, "raw syscall loop": raw_durable},
        args.files,
        args.rounds,
    )
    report(
        "(a) durable publish + claim + done",
        times,
        "entrepot durable",
        "raw syscall loop",
        args.files,
        0.9,
    )

    file_store = gocept_filestore()
    times = run(
        {
            "entrepot non-durable": entrepot_fast,
            "gocept.filestore 1.0": make_gocept(file_store),
            "entrepot non-durable+claim": entrepot_fast_claims,
        },
        args.files,
        args.rounds,
    )
    report(
        "(b) non-durable publish + move to cur/",
        times,
        "entrepot non-durable",
        "gocept.filestore 1.0",
        args.files,
        1.0,
    )
    for label, numbers in zip(("wall clock", "cpu time"), times, strict=True):
        ratio, _ = paired_ratio(numbers, "entrepot non-durable+claim", "gocept.filestore 1.0")
        print(f"  (with a claim instead of a move, {label}: {ratio:.2f}x)")

    times = run(
        {"batch publish": entrepot_batch, "per-file durable publish": entrepot_per_file},
        args.files,
        args.rounds,
    )
    report(
        "(c) batch vs per-file durable publish",
        times,
        "batch publish",
        "per-file durable publish",
        args.files,
        3.0,
    )


if __name__ == "__main__":
    main()
