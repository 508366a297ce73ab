"""The documented command that refreshes the README's image works (into a temporary file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.screenshot import DEFAULT

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.server


def test_the_screenshot_command_writes_the_overview_as_png(browser: object, tmp_path: Path) -> None:
    # ``browser``: skipped (or failed in CI) like every browser test when chromium is missing.
    out = tmp_path / "overview.png"
    docs_image = ROOT / "docs" / "images" / "overview.png"
    before = docs_image.stat().st_mtime_ns if docs_image.exists() else None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "tests.browser.screenshot", str(out), "--width", "1024"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"wrote {out}" in result.stdout
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    assert width == 1024
    # The default is the README's image; this run did not touch it.
    assert docs_image == DEFAULT
    assert (docs_image.stat().st_mtime_ns if docs_image.exists() else None) == before
