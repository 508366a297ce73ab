"""A real browser for the dashboard's tests: Debian's chromium driven by Playwright.

Fixtures:

``browser``
    one headless chromium per test worker (``/usr/bin/chromium``, or
    ``$ENTREPOT_CHROMIUM``), launched with the arguments of
    ``shared/SERVERS.md`` — Playwright never downloads a browser here;
``page``
    a page in a fresh browser context (no cookies or storage shared between
    tests); console errors — a Content-Security-Policy violation among them
    — and uncaught page errors fail the test at its end;
``dashboard``
    the service in this process with its dashboard (``tests/web/conftest.py``);
``shots``
    :class:`Screenshots`: ``shots(page, "overview")`` writes
    ``<tmp_path>/screenshots/NN-overview.png`` (never into ``docs/``).

Without chromium or Playwright the tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._chromium import CHROMIUM, launch_chromium
from tests.servers._common import server_unavailable
from tests.web.conftest import dashboard  # noqa: F401 - the service with its dashboard, in process

#: Milliseconds a locator waits for what it looks for (generous: the machine is shared).
WAIT_MS = 20_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        server_unavailable(f"playwright is not installed: {exc}")
    if not os.access(CHROMIUM, os.X_OK):
        server_unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright)
        except Error as exc:
            server_unavailable(f"chromium does not start: {exc}")
        try:
            yield chromium
        finally:
            chromium.close()


class Screenshots:
    """Numbered full-page screenshots of a test's pages, under its temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Screenshots:
    return Screenshots(tmp_path / "screenshots")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        yield tab
    finally:
        context.close()
    # A refused login or action answers 401/403/429, which chromium logs as a failed
    # resource: the expected answer, not a problem of the page (a 404 or 500 is one).
    real = [text for text in problems if not re.search(r"status of (401|403|429)\b", text)]
    assert not real, "the browser reported:\n" + "\n".join(real)
