"""What the probes share: functions of Entrepôt wrapped by name, then its command run.

A probe (``provenance_probe.py``, ``ship_phases_probe.py``) is started in
place of the ``entrepot`` console script: it wraps the functions it
watches (:func:`wrap_each`), then runs the command given, in its own
process, with its report written at exit (:func:`run_entrepot`).
"""

from __future__ import annotations

import atexit
import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: What names a function: its module, its class (None: the module's own), its name.
Named = tuple[str, "str | None", str]


def wrap_each(
    named: Mapping[str, Named],
    wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]],
    *,
    missing_ok: bool = False,
) -> None:
    """Replace each function of ``named`` (by label) with ``wrap(label, function)``;
    ``missing_ok``: leave out a function the code lacks (an older release's)."""
    for label, (module_name, class_name, attribute) in named.items():
        try:
            owner: Any = importlib.import_module(module_name)
            if class_name:
                owner = getattr(owner, class_name)
            function = getattr(owner, attribute)
        except (ImportError, AttributeError):
            if missing_ok:
                continue
            raise
        setattr(owner, attribute, wrap(label, function))


def run_entrepot(arguments: list[str], report: Callable[[], None]) -> None:
    """Run ``entrepot ARGUMENTS`` in this process; ``report`` is called as it ends."""
    atexit.register(report)
    sys.argv = ["entrepot", *arguments]
    from entrepot.cli import run

    run()
