"""Provenance: what one run's commit writes as the ledger's history of the same names grows.

    .venv/bin/python bench/provenance_history.py [--files 2000] [--rounds 40] [--every 5]
        [--place /srv/bench/spool]

A new SQLite ledger (tuned as the ledger is: write-ahead log, ``synchronous
= FULL``) gets, round after round, one batch of ``--files`` shipped files'
rows — the same names every round, as ``bench/cmd_ship.py`` ships them —
made and inserted as a recorder does (:func:`~entrepot.provenance.deliveries.rows_of`,
:func:`~entrepot.provenance.inserts.insert_rows`, one transaction).  After
each commit the log is checkpointed and emptied, as the command's last
connection does when it closes.  Printed every ``--every`` rounds: the
bytes the commit wrote into the log, and the time of the inserts and of
the commit.  The index on names takes each round's rows at ``--files``
places: once it is large enough, one page each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from entrepot.db import make_engine, write_transaction
from entrepot.provenance import Recorder
from entrepot.provenance.deliveries import Delivery, Template, now, rows_of
from entrepot.provenance.inserts import insert_rows

HOUR = 3600 * 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--place", default="/srv/bench/spool", help="the spool's path in the rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "ledger.sqlite3"
        engine = make_engine(f"sqlite:///{database}", purpose="ledger")
        Recorder(engine).close()  # the tables
        place, details = args.place, json.dumps({"to": "cur"})
        template = Template(
            "delivered", "ok", place, "file:///srv/drop", "job-1", "host-1", "moved", details,
            "cur", 1,
        )  # fmt: skip
        wal = Path(f"{database}-wal")
        seen: list[tuple[float, float]] = []
        start = now() - args.rounds * 24 * HOUR
        for number in range(1, args.rounds + 1):
            at = start + number * 24 * HOUR
            settled = [
                (template, Delivery(
                    f"f{i:05}.csv", 4096, "sha256:" + "ab" * 32, at + i, at + i + 500, 1,
                    f"f{i:05}.csv", 4096, None, None, f"{place}/claimed/t-f{i:05}.csv",
                ), at + i + 900)
                for i in range(args.files)
            ]  # fmt: skip
            counts: dict[tuple[int, str], list[int]] = {}
            rows = rows_of(settled, counts)
            began = time.perf_counter()
            with write_transaction(engine, durable=True) as conn:
                insert_rows(conn, rows, counts)
                inserted = time.perf_counter()
            committed = time.perf_counter()
            written = wal.stat().st_size if wal.exists() else 0
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            seen.append((inserted - began, committed - inserted))
            if number % args.every == 0:
                insert = statistics.median(s[0] for s in seen[-args.every :]) * 1000
                commit = statistics.median(s[1] for s in seen[-args.every :]) * 1000
                print(
                    f"round {number:3}: log {written / 1e6:5.2f} MB, "
                    f"insert {insert:5.1f} ms, commit {commit:5.1f} ms"
                )
        engine.dispose()


if __name__ == "__main__":
    main()
