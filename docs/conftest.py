"""Doctest set-up for the documentation pages: each page runs in a fresh folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, request: pytest.FixtureRequest) -> object:
    """Run every documentation example inside its own empty working folder."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield
    finally:
        os.chdir(old)
