"""``entrepot`` with the moments its shipment's phases begin and end noted (a probe).

    python bench/ship_phases_probe.py REPORT.json ENTREPOT-ARGUMENTS...

Runs the ``entrepot`` command given, in this process, and writes to
``REPORT.json`` the milliseconds since this process started at which each
phase began (``name>``) and ended (``name<``), the first time each did.
Used by ``ship_phases.py``; it wraps the functions named in
:data:`PHASES` and changes nothing else — unless a variant is named
(``--variant=NAME`` before the report), a change made only to measure what
a part costs:

* ``busy:N`` — each file's claim also spins ``N`` microseconds of the
  interpreter, holding its lock (on a shipment without provenance: as much
  processor time a file as provenance's steps, without their writes);
* ``no-line`` — a delivery's journal line is not written (a crash would then
  lose the delivery's events: a measurement, never a way to ship).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from probing import Named, run_entrepot, wrap_each

STARTED = time.perf_counter_ns()
#: Label → the function whose calls begin and end the phase; a phase that a release
#: lacks is left out.  ``recover``: the recorder's recovery of the journals left since
#: the ledger was last opened (the put's receipts).
#: Like every phase, those inside the run's commit are noted the first time they run:
#: the run's commit itself for a run of at most :data:`~entrepot.provenance.recorder.BATCH`
#: files (a longer run writes a batch before it).
PHASES: dict[str, Named] = {
    "prepare": ("entrepot.ship.jobs", "ShipJob", "prepare"),
    "recorder": ("entrepot.provenance.recorder", "Recorder", "__init__"),
    "recover": ("entrepot.provenance.recorder", None, "recover_journals"),
    "produce": ("entrepot.ship.jobs", "ShipJob", "produce"),
    "connect": ("entrepot.ship.route", "Route", "connect"),
    "session": ("entrepot.ship.shipper", "Shipper", "open_session"),
    "learn": ("entrepot.ship.trail", "Trail", "learn"),
    "deliver": ("entrepot.ship.shipper", "Shipper", "deliver"),
    "flush": ("entrepot.ship.trail", "Trail", "flush"),
    # Inside the run's commit: its rows made, inserted, committed; the journal emptied.
    "made_rows": ("entrepot.provenance.recorder", None, "made_rows"),
    "commit": ("entrepot.provenance.recorder", "Recorder", "_commit"),
    "insert": ("entrepot.provenance.recorder", None, "insert_rows"),
    "empty": ("entrepot.provenance.journal", "Journal", "empty"),
    "recorder_close": ("entrepot.provenance.recorder", "Recorder", "close"),
    "ledger_close": ("entrepot.jobs.ledger", "Ledger", "close"),
}
marks: dict[str, float] = {}


def mark(label: str) -> None:
    marks.setdefault(label, (time.perf_counter_ns() - STARTED) / 1e6)


def wrapped(label: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def phase(*args: Any, **kwargs: Any) -> Any:
        mark(f"{label}>")
        try:
            return call(*args, **kwargs)
        finally:
            mark(f"{label}<")

    return phase


def apply(variant: str) -> None:
    """Make the change ``variant`` names (see the module docstring)."""
    if variant.startswith("busy:"):
        from entrepot.ship.trail import Trail

        spin, claimed, clock = float(variant[5:]) / 1e6, Trail.claimed, time.perf_counter

        def busy(self: Any, name: str, size: int) -> Any:
            end = clock() + spin
            while clock() < end:
                pass
            return claimed(self, name, size)

        Trail.claimed = busy  # type: ignore[method-assign]
    elif variant == "no-line":
        from entrepot.provenance.journal import Journal

        Journal.write_delivery = lambda *_: None  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown variant {variant!r}")


def main() -> None:
    arguments = sys.argv[1:]
    if arguments[0].startswith("--variant="):
        apply(arguments.pop(0).split("=", 1)[1])
    report, arguments = arguments[0], arguments[1:]
    wrap_each(PHASES, wrapped, missing_ok=True)

    def write() -> None:
        mark("exit")
        with open(report, "w") as out:
            json.dump(marks, out)

    run_entrepot(arguments, write)


if __name__ == "__main__":
    main()
