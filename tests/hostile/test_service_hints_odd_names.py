"""File-system notifications outlive a file name that is not UTF-8.

What was wrong: ``watchfiles`` ends its watch on a name it cannot decode
(``bad\\xff.csv``), and the service's notification thread ended with it, for
good: any program that could drop such a name into any watched folder
turned every on-arrival route into one run per ``scan_every`` (30 s), while
``service.json`` still said the notifications worked.  Now the watch is
started again (after a pause that grows while it keeps failing), every
folder is looked at as it restarts, and the name itself is passed over.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from entrepot.service.hints import FolderHints, hints_available
from entrepot.spool import Spool
from tests.integration._service import Service, services_fixture  # noqa: F401
from tests.one_route import one_route
from tests.servers._common import wait_until

pytestmark = pytest.mark.skipif(not hints_available(), reason="needs watchfiles")


BAD = b"bad\xff.csv"


def _drop_bad_name(folder: Path) -> None:
    with open(os.path.join(os.fsencode(folder), BAD), "wb") as handle:
        handle.write(b"y\n")


def test_a_good_file_ships_on_arrival_after_a_name_that_is_not_utf8(
    tmp_path: Path, services: list[Service]
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "entrepot.toml").write_text(
        one_route(
            tmp_path,
            state="state",
            service='grace = "5s"\nscan_every = "60s"\n',
            trigger="on_arrival = true",
        )
    )
    service = Service(tmp_path / "entrepot.toml")
    services.append(service)
    service.start()
    spool = Spool(tmp_path / "out")
    spool.publish_bytes(b"a", "a.csv")
    wait_until((dest / "a.csv").exists, timeout=10, what="a on arrival")

    _drop_bad_name(tmp_path / "out" / "new")
    service.wait_for("service.hints_failed", timeout=10)
    time.sleep(2)  # the watch starts again after a short pause (a tenth of a second)
    began = time.monotonic()
    spool.publish_bytes(b"b", "b.csv")
    wait_until((dest / "b.csv").exists, timeout=20, what="b on arrival")
    assert time.monotonic() - began < 10  # on arrival, not at the next scan (60 s)
    assert os.path.exists(os.path.join(os.fsencode(tmp_path / "out" / "new"), BAD))


def test_the_watch_restarts_and_says_whether_it_works(tmp_path: Path) -> None:
    told: list[set[Path]] = []
    hints = FolderHints([tmp_path], told.append)
    assert not hints.working
    assert hints.start()
    try:
        wait_until(lambda: hints.working, timeout=5, what="the watch")
        _drop_bad_name(tmp_path)
        wait_until(lambda: hints.restarts == 1, timeout=10, what="the watch restarted")
        assert {tmp_path} in told  # every folder is looked at as it restarts
        wait_until(lambda: hints.working, timeout=5, what="the watch again")
        told.clear()
        (tmp_path / "good.csv").write_text("x")
        wait_until(lambda: {tmp_path} in told, timeout=5, what="the good file told")
    finally:
        hints.stop()
    assert not hints.working
