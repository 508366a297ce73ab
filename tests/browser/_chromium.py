"""Debian's chromium under Playwright, as every browser test and the docs image use it.

Never ``playwright install``: the browser is the system's (``apt-get install
chromium``), named by ``executable_path``, with the arguments of
``shared/SERVERS.md`` (no sandbox as root in a container, no GPU, nothing
fetched in the background).
"""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("ENTREPOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """A headless chromium from the system."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
