"""Decimal columns again, against a real PostgreSQL (numeric columns)."""

from __future__ import annotations

import pytest

from tests.unit.test_dc_decimals import (  # noqa: F401 - the shared decimal tests
    center,
    test_a_decimal_key_is_one_value_however_it_is_written,
    test_decimals_are_exported_in_their_one_form,
    test_filters_compare_decimals_by_number,
)

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


@pytest.fixture
def db_url(postgres_url: str) -> str:
    return postgres_url
