"""Exports, filters and retiring rows again, against a real PostgreSQL 15."""

from __future__ import annotations

import pytest

from tests.unit.test_dc_export import *  # noqa: F403 - the shared export tests

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return postgres_url
