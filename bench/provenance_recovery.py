"""How long adding dead journals to the ledger takes, in a process of its own.

    .venv/bin/python bench/provenance_recovery.py [--files 2000,5000] [--rounds 3]

Three cases, each timed around :func:`entrepot.provenance.recover_journals`
alone (median of ``--rounds``, a fresh ledger each time):

* ``put at once``: one journal of ``N`` receipts, as one ``entrepot spool
  put`` of ``N`` files leaves it (what ``bench/cmd_ship.py --put copy``'s
  shipments recover as they open);
* ``put one by one``: ``N`` journals of one receipt each, as ``N`` puts of
  one file leave them (``put_each.py``'s way);
* ``killed shipment``: one journal of ``N`` deliveries, each announcing its
  move into ``cur/``, none committed — a shipment killed before its commit;
  no file was moved, so each announced step is looked for and not found.

Run with an older release first on ``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

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


def timed(base: Path, make: str, count: int) -> float:
    shutil.rmtree(base, ignore_errors=True)
    Spool(base / "out").prepare()
    engine = make_engine(f"sqlite:///{base / 'ledger.sqlite3'}", purpose="ledger")
    ensure_tables(engine)
    MAKERS[make](base, count)
    started = time.perf_counter()
    added = recover_journals(engine, base / JOURNAL_DIR)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert added == count, (added, count)
    return elapsed


MAKERS = {"once": put_at_once, "put": put_one_by_one, "killed": killed_shipment}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", default="2000,5000", help="counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = scratch("provenance-recovery")
    cases = (("put at once", "once"), ("put one by one", "put"), ("killed shipment", "killed"))
    for label, make in cases:
        for count in (int(n) for n in args.files.split(",")):
            times = [timed(base / "run", make, count) for _ in range(args.rounds)]
            print(f"{label:16} {count:>6,}  {statistics.median(times) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
