"""How long adding dead journals to the ledger takes, in a process of its own.

    .venv/bin/python bench/provenance_recovery.py [--files 2000,5000] [--rounds 3]
        [--cases once,put,killed,archives]

Three cases, each timed around :func:`entrepot.provenance.recover_journals`
alone (median of ``--rounds``, a fresh ledger each time):

* ``put at once``: one journal of ``N`` receipts, as one ``entrepot spool
  put`` of ``N`` files leaves it (what ``bench/cmd_ship.py --put copy``'s
  shipments recover as they open);
* ``put one by one``: ``N`` journals of one receipt each, as ``N`` puts of
  one file leave them (``put_each.py``'s way);
* ``killed shipment``: one journal of ``N`` deliveries, each announcing its
  move into ``cur/``, none committed — a shipment killed before its commit;
  no file was moved, so each announced step is looked for and not found;
* ``archives``: ``N`` archives of one record each, sealed by a rolling
  writer and handed to a spool — four events an archive (``archived``,
  ``sealed``, ``handed_off``, the spool's ``received``).

Each line also gives the median time the producer took to make what is
recovered (the puts, the archives' writing, sealing and journaling).
Run with an older release first on ``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from entrepot.archive import RollingWriter
from entrepot.db import make_engine
from entrepot.provenance import Kind, recover_journals
from entrepot.provenance.journal import JOURNAL_DIR, Journal, Then, event_row
from entrepot.provenance.schema import ensure_tables
from entrepot.spool import Spool
from harness import scratch


def put_one_by_one(base: Path, count: int) -> None:
    for number in range(count):
        with Spool(base / "out", durable=False, provenance=base) as spool:
            spool.publish_bytes(b"x" * 64, f"f{number:05}")


def put_at_once(base: Path, count: int) -> None:
    with Spool(base / "out", durable=False, provenance=base) as spool:
        for number in range(count):
            spool.publish_bytes(b"x" * 64, f"f{number:05}")


def killed_shipment(base: Path, count: int) -> None:
    place = str(base / "out")
    journal = Journal(base)
    for number in range(count):
        name = f"f{number:05}"
        then = Then("moved", '{"to":"cur"}', [f"{place}/cur/{name}"], [f"{place}/claimed/{name}"])
        journal.append([event_row(Kind.DELIVERED, place, name, size=64)], then)
    journal.close(remove=False)  # nothing committed


def archives(base: Path, count: int) -> None:
    spool = Spool(base / "out")
    writer = RollingWriter(base / "archives", "part-{seq}.arc", spool=spool, provenance=base)
    for number in range(count):
        writer.write({"kind": "reading"}, {"value": number})
        writer.roll()
    writer.close()


def timed(base: Path, make: str, count: int) -> tuple[float, float]:
    """The times taken to make the journals and to recover them."""
    shutil.rmtree(base, ignore_errors=True)
    Spool(base / "out").prepare()
    engine = make_engine(f"sqlite:///{base / 'ledger.sqlite3'}", purpose="ledger")
    ensure_tables(engine)
    started = time.perf_counter()
    MAKERS[make](base, count)
    made = time.perf_counter() - started
    started = time.perf_counter()
    added = recover_journals(engine, base / JOURNAL_DIR)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert added == count * EVENTS.get(make, 1), (added, count)
    return made, elapsed


MAKERS = {
    "once": put_at_once, "put": put_one_by_one, "killed": killed_shipment, "archives": archives
}  # fmt: skip
#: Events made for each of the ``N`` (one otherwise).
EVENTS = {"archives": 4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", default="2000,5000", help="counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", help="once, put, killed, archives (default: all)")
    args = parser.parse_args()
    base = scratch("provenance-recovery")
    cases = (
        ("put at once", "once"), ("put one by one", "put"), ("killed shipment", "killed"),
        ("archives", "archives"),
    )  # fmt: skip
    chosen = args.cases.split(",") if args.cases else [make for _, make in cases]
    for label, make in cases:
        if make not in chosen:
            continue
        for count in (int(n) for n in args.files.split(",")):
            runs = [timed(base / "run", make, count) for _ in range(args.rounds)]
            made, times = [run[0] for run in runs], [run[1] for run in runs]
            print(
                f"{label:16} {count:>6,}  recovered in {statistics.median(times) * 1000:8.1f} ms"
                f"  (made in {statistics.median(made) * 1000:8.1f} ms)"
            )


if __name__ == "__main__":
    main()
