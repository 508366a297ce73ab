"""Run one ``entrepot`` command with provenance's steps timed in processor time.

    python bench/provenance_probe.py REPORT.json ship SPOOL URL ...

Each step of :data:`STEPS` is wrapped: every call adds the processor time
of its own thread (``time.thread_time_ns``: what the step computed, not
what it waited for) and one call to the step's totals.  At exit the totals
and the process's own processor time are written to ``REPORT.json``.
Used by ``provenance_steps.py``, which runs this with provenance on and
off and subtracts the wrapper's own cost (the off runs' calls return at
once: what they measure is the wrapper).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from probing import Named, run_entrepot, wrap_each

#: Step → (module, class or None, attribute), in the order of a file's life.
STEPS: dict[str, Named] = {
    "open": ("entrepot.provenance.recorder", "Recorder", "__init__"),
    "look-up": ("entrepot.ship.trail", "Trail", "learn"),
    "claim": ("entrepot.ship.trail", "Trail", "claimed"),
    "read and hash": ("entrepot.targets.tap", "Tap", "wrap"),
    "checksum": ("entrepot.ship.trail", "Trail", "summed"),
    "delivery": ("entrepot.ship.trail", "Trail", "delivered"),
    "move": ("entrepot.ship.trail", "Trail", "settled"),
    "end commit": ("entrepot.provenance.recorder", "Recorder", "flush"),
    "fold": ("entrepot.provenance.folding", None, "_fold_if_many"),
}

_totals: dict[str, list[int]] = {}
_lock = threading.Lock()


def _timed(step: str, call: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.thread_time_ns

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return call(*args, **kwargs)
        finally:
            spent = clock() - start
            with _lock:
                found = _totals.setdefault(step, [0, 0])
                found[0] += spent
                found[1] += 1

    return timed


_gc: dict[int, list[int]] = {}
_gc_started: dict[int, int] = {}


def _collected(phase: str, info: dict[str, int]) -> None:
    """A garbage collection's processor time, by generation (``gc.callbacks``)."""
    thread = threading.get_ident()
    if phase == "start":
        _gc_started[thread] = time.thread_time_ns()
        return
    spent = time.thread_time_ns() - _gc_started.pop(thread, time.thread_time_ns())
    found = _gc.setdefault(info["generation"], [0, 0])
    found[0] += spent
    found[1] += 1


def install() -> None:
    gc.callbacks.append(_collected)
    wrap_each(STEPS, _timed)


def write(path: str) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "steps": {step: {"ns": ns, "calls": calls} for step, (ns, calls) in _totals.items()},
        "cpu": usage.ru_utime + usage.ru_stime,
        "voluntary_switches": usage.ru_nvcsw,
        "gc": {str(gen): {"ns": ns, "calls": calls} for gen, (ns, calls) in _gc.items()},
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(report, out)


def main() -> None:
    report = sys.argv[1]
    install()
    run_entrepot(sys.argv[2:], lambda: write(report))


if __name__ == "__main__":
    main()
