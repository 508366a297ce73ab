"""In a real browser: the data center page with file names it did not expect.

A name holding a byte that is not UTF-8 made the page answer 500; a
right-to-left override made ``bidi-\\u202egnp.csv`` read ``bidi-vsc.png``,
and ESC and BEL went into the page raw.  Now the page loads, shows each
name escaped as the logs show it, and offers only the file with a plain
name for download and import.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser._served import log_in
from tests.browser.conftest import Screenshots
from tests.web.conftest import Dashboard

pytestmark = pytest.mark.server

CUSTOMERS = "customer_id,name,country\nC001,Ann,fr\n"


def test_the_data_center_page_shows_unusual_names_escaped(
    dashboard: Dashboard, page: Any, shots: Screenshots
) -> None:
    root = dashboard.root / "dc"
    for name in (os.fsdecode(b"caf\xe9.csv"), "bidi-\u202egnp.csv", "ctl-\x1b[31mred\x07.csv"):
        (root / name).write_text(CUSTOMERS)
    (root / "good.csv").write_text(CUSTOMERS)
    log_in(page, dashboard.url, dashboard.tokens["operator"])
    answer = page.goto(dashboard.url + "/datacenter")
    assert answer is not None and answer.status == 200
    shots(page, "datacenter-unusual-names")
    listed = page.locator(".dc-files tbody td:first-child").all_inner_texts()
    assert sorted(listed) == sorted([
        "bidi-\\u202egnp.csv", "caf\\xe9.csv", "ctl-\\x1b[31mred\\x07.csv", "good.csv",
    ])  # fmt: skip
    text = page.locator("main").inner_text()
    assert "\u202e" not in text and "\x1b" not in text and "\x07" not in text
    assert page.locator("a.dc-download").all_inner_texts() == ["good.csv"]
    assert page.locator("#dc-import-file option").all_inner_texts() == ["good.csv"]
