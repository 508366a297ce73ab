"""The dashboard's data center page: one page of 50 files in a folder of many.

    .venv/bin/python bench/dc_listing.py [--files 30000] [--repeat 9]

Makes a data center whose root holds ``--files`` small CSV files (and a
few entries a listing leaves out: a hidden file, a folder, a link), then
times what ``/datacenter`` asks for each page it shows
(:func:`entrepot.web.dc_listing.area_page`): the first and the last page,
by name and by date (newest first).  In-process, the median of
``--repeat`` readings each (on the clock, and in CPU), after one untimed reading (the lines of the
page's files are counted once, then remembered).  Run it against another
checkout with ``PYTHONPATH=<checkout>/src``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import entrepot
from entrepot.datacenter import DataCenter
from entrepot.datacenter.listing import SortKey
from entrepot.web import dc_listing
from harness import scratch


def fill(root: Path, count: int) -> None:
    """``count`` CSV files with dates a second apart (in an order unlike their names)."""
    for n in range(count):
        path = root / f"upload-{(n * 7919) % count:06d}.csv"
        path.write_bytes(b"id,name\n1,a\n")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    (root / ".hidden.csv").write_bytes(b"x\n")
    (root / "folder.csv").mkdir()
    (root / "link.csv").symlink_to(root / "upload-000000.csv")


def median_ms(center: DataCenter, page: int, sort: SortKey, repeat: int) -> tuple[float, float]:
    """The median time of a page, on the clock and in the process's CPU (user and
    system: on a busy machine, the steadier of the two)."""
    dc_listing.area_page(center, "pending", page, sort=sort)
    wall, cpu = [], []
    for _ in range(repeat):
        start, used = time.perf_counter(), time.process_time()
        dc_listing.area_page(center, "pending", page, sort=sort)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - used)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    center = DataCenter(scratch("dc-listing") / "dc", create=True)
    fill(center.root, args.files)
    last = -(-args.files // dc_listing.PAGE_SIZE)
    print(f"{args.files:,} files in the root, pages of {dc_listing.PAGE_SIZE}")
    print(f"  entrepot from {Path(entrepot.__file__).parent}")
    sorts: tuple[SortKey, ...] = ("name", "date")
    for sort in sorts:
        for page in (1, last):
            wall, cpu = median_ms(center, page, sort, args.repeat)
            print(f"  sort={sort:<4} page {page:>4}: {wall:8.1f} ms, CPU {cpu:8.1f} ms"
                  f" (medians of {args.repeat})")  # fmt: skip


if __name__ == "__main__":
    main()
