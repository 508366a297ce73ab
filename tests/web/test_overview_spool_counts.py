"""The overview counts the spools' files at most every ``SPOOL_FIGURES_FOR`` seconds.

Every ``/`` and ``/api/overview`` looked at every file waiting in each
spool (100,000 files waiting: 0.75–0.86 s a request, however often it was
asked).  Now requests within a couple of seconds share one count, the
oldest file's age still going on with the clock; a file published later is
counted once that time has passed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from entrepot.spool import Spool
from entrepot.web.overview_data import SPOOL_FIGURES_FOR
from tests.servers._common import wait_until
from tests.web.conftest import running_dashboard

QUIET = '[spools.quiet]\npath = "quiet"\n'


def _quiet(reply: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in reply["spools"] if s["name"] == "quiet")


def test_overviews_close_together_share_one_count(tmp_path: Path) -> None:
    with running_dashboard(tmp_path, extra=QUIET) as dashboard:
        quiet = Spool(tmp_path / "quiet").prepare()
        quiet.publish_bytes(b"1", "first.bin")
        viewer = dashboard.client("viewer")
        started = time.monotonic()
        first = _quiet(viewer.get("/api/overview").json())
        quiet.publish_bytes(b"2", "second.bin")
        again = _quiet(viewer.get("/api/overview").json())
        if time.monotonic() - started < SPOOL_FIGURES_FOR:
            assert first["waiting_files"] == again["waiting_files"] == 1
        wait_until(
            lambda: _quiet(viewer.get("/api/overview").json())["waiting_files"] == 2,
            timeout=30,
            what="the second file counted",
        )
