"""Date-times with a zone that leave the range once in UTC: a bad cell, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ConfigError

SCHEMA = """
[tables.visits]
key = ["vid"]
[tables.visits.columns]
vid = { type = "integer" }
at = { type = "datetime" }
day = { type = "date" }
"""

EDGES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    (center.root / "schema.toml").write_text(SCHEMA)
    return center


@pytest.mark.parametrize("reader", ["csv", "arrow"])
def test_a_zoned_time_out_of_range_is_a_pending_row_with_its_line(
    center: DataCenter, reader: str
) -> None:
    (center.root / "v.csv").write_text(
        f"vid,at\n1,{EDGES[0]}\n2,2020-01-01T10:00:00+02:00\n3,{EDGES[1]}\n"
    )

    result = center.import_file("v.csv", "visits", reader=reader)

    assert (result.successful, result.failed) == (1, 2)
    pending = (center.root / "v.create.pending.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in pending[1:]] == ["1", "3"]
    assert all("at: date and time out of range" in line for line in pending[1:])


def test_the_file_fixed_imports_after_such_a_row(center: DataCenter) -> None:
    (center.root / "v.csv").write_text(f"vid,at\n1,{EDGES[0]}\n")
    assert center.import_file("v.csv", "visits").failed == 1
    (center.root / "v.create.pending.csv").write_text(
        "vid,at,--ERRORS--\n1,0001-01-02T00:00:00+01:00,\n"
    )

    assert center.import_file("v.create.pending.csv", "visits").all_ok


@pytest.mark.parametrize("edge", EDGES)
def test_a_filter_value_out_of_range_is_a_usage_error(
    center: DataCenter, edge: str, cli: Any
) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        center.export("visits", where=[f"at<{edge}"])
    with pytest.raises(ConfigError, match="out of range"):
        center.retire("visits", where=[f"at>{edge}"], dry_run=True)

    code, out, err = cli("dc", "export", "visits", "--root", center.root, "--where", f"at<{edge}")
    assert code == 3, out + err
    assert "Traceback" not in err and "out of range" in err


@pytest.mark.parametrize("cell", ["2020-W01-1", "20200101", "2020-001"])
def test_a_date_is_written_yyyy_mm_dd(center: DataCenter, cell: str) -> None:
    (center.root / "d.csv").write_text(f"vid,day\n1,{cell}\n2,2020-01-01\n")

    result = center.import_file("d.csv", "visits")

    assert (result.successful, result.failed) == (1, 1)
    assert "not a date (YYYY-MM-DD)" in (center.root / "d.create.pending.csv").read_text()
