"""Refresh the README's picture of the dashboard: ``python -m tests.browser.screenshot``.

It runs what ``entrepot demo --once`` runs — the service on the demo's
starter configuration in a temporary folder, fed exports, events and a CSV
with bad rows, the outcome checked through the dashboard's API — then logs
in to the overview in the system's chromium and saves it as
``docs/images/overview.png`` (or the path given).  The tests never write
into ``docs/``; this command is how the image is refreshed, by hand, when
the overview changes::

    PYTHONPATH=src python -m tests.browser.screenshot [PATH] [--width 1280]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from entrepot.cli.demo_check import DashboardApi, wait_for_outcome
from entrepot.cli.demo_config import write_demo
from entrepot.cli.demo_flow import feed
from entrepot.cli.demo_service import DemoService
from tests.browser._chromium import launch_chromium
from tests.browser._served import log_in

DEFAULT = Path(__file__).resolve().parents[2] / "docs" / "images" / "overview.png"


def overview_png(out: Path, *, width: int = 1280, height: int = 900) -> list[str]:
    """Write the demo's overview page to ``out``; the demo's problems (empty: written)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="entrepot-screenshot-") as folder:
        setup = write_demo(Path(folder) / "demo", port=0, per_archive=50)
        service = DemoService(setup.config)
        url = service.start()
        try:
            fed = feed(service.daemon.config, files=12, events=150)
            problems = wait_for_outcome(DashboardApi(url, setup.operator_token), fed)
            if problems:
                return problems
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    log_in(page, url, setup.operator_token)
                    page.get_by_role("heading", name="Overview").wait_for()
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out), full_page=True)
                finally:
                    browser.close()
        finally:
            service.stop("screenshot taken")
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshot",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280, help="the window's width (px)")
    args = parser.parse_args(argv)
    problems = overview_png(args.out, width=args.width)
    for problem in problems:
        print(f"the demo did not turn out as expected: {problem}", file=sys.stderr)
    if not problems:
        print(f"wrote {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
