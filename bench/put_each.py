"""Publish files into a spool one at a time, each by a spool of its own with its receipt.

    .venv/bin/python bench/put_each.py SPOOL STATE|- FILE...

What a program that puts files one by one leaves for the next command that
opens the ledger (as many ``entrepot spool put`` commands, or a
:class:`~entrepot.spool.Spool` opened per file with ``provenance=STATE``):
one receipt per put, appended to the state folder's shared receipts file
(a journal per put with the releases before).  Made in one process (a
command per file would take minutes per round).  ``-`` instead of STATE
publishes without receipts (the side of a benchmark without provenance).
Used by ``cmd_ship.py --put each``.
"""

from __future__ import annotations

import sys

from entrepot.spool import Spool


def main() -> None:
    spool, state, *files = sys.argv[1:]
    provenance = None if state == "-" else state
    for file in files:
        with Spool(spool, durable=False, provenance=provenance) as each:
            each.publish_file(file)


if __name__ == "__main__":
    main()
