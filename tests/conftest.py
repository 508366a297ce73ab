"""Test configuration shared by every test folder.

The server fixtures live in ``tests/servers``; each module there is a plugin.
"""

from __future__ import annotations

import pkgutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from entrepot.db import MAX_VALUES

_SERVERS = Path(__file__).parent / "servers"
pytest_plugins = [
    f"tests.servers.{info.name}"
    for info in pkgutil.iter_modules([str(_SERVERS)])
    if not info.name.startswith("_")
]


@sa.event.listens_for(Engine, "connect")
def _oldest_sqlite_limit(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite connection of the tests binds at most :data:`~entrepot.db.MAX_VALUES`
    values a statement, as the oldest builds do: a statement that they would refuse
    fails here too, whatever SQLite this machine has."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_VALUES)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``entrepot`` in-process: ``cli("spool", "ls", path)`` → (code, stdout, stderr)."""
    from entrepot.cli import main

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
