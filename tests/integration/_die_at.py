"""``python -m tests.integration._die_at POINT ARGS…``: the ``entrepot`` command, killed
with SIGKILL by itself at one point of a claimed fetch — the exact instant a crash
of a real process is hardest to hit by timing alone.

* ``landing`` — the claim is marked landing, the file not yet renamed into ``new/``;
* ``landed`` — the file is in ``new/``, its claim not yet marked done.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from entrepot.cli import run
from entrepot.ship.claimed import FetchClaims
from entrepot.spool import Spool


def _die(*_args: Any, **_kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    point = sys.argv.pop(1)
    if point == "landing":
        Spool.adopt = _die  # type: ignore[method-assign]
    elif point == "landed":
        FetchClaims.stored = _die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}")
    sys.argv[0] = "entrepot"
    run()


if __name__ == "__main__":
    main()
