"""The bookkeeping tests of ``tests/unit/test_dc_bookkeeping.py`` against a real PostgreSQL."""

from __future__ import annotations

import pytest

from tests.unit.test_dc_bookkeeping import *  # noqa: F403 - the shared bookkeeping tests

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return postgres_url
