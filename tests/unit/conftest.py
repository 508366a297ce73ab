"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A ledger's engine on SQLite in the test's folder, with no table made yet."""
    made = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    yield made
    made.dispose()
