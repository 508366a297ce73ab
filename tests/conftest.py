"""Test configuration shared by every test folder.

The server fixtures live in ``tests/servers``; each module there is a plugin.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

_SERVERS = Path(__file__).parent / "servers"
pytest_plugins = [
    f"tests.servers.{info.name}"
    for info in pkgutil.iter_modules([str(_SERVERS)])
    if not info.name.startswith("_")
]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``entrepot`` in-process: ``cli("spool", "ls", path)`` → (code, stdout, stderr)."""
    from entrepot.cli import main

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
