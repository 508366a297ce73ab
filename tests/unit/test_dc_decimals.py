"""Decimal columns: one stored form for a value, compared by number in filters and keys."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.values import decimal_text

SCHEMA = """
[tables.fees]
key = ["code"]
[tables.fees.columns]
code = { type = "decimal" }
fee = { type = "decimal", default = "0" }
"""


@pytest.fixture
def db_url() -> str | None:
    """None: SQLite; ``tests/integration/test_dc_postgres_decimals.py`` gives PostgreSQL."""
    return None


@pytest.fixture
def center(tmp_path: Path, db_url: str | None) -> Iterator[DataCenter]:
    center = DataCenter(tmp_path / "dc", database=db_url, schema=parse_schema(SCHEMA), create=True)
    yield center
    center.close()


def imported(center: DataCenter, name: str, rows: str, **options: object) -> tuple[int, int]:
    (center.root / name).write_text("code,fee\n" + rows)
    result = center.import_file(name, "fees", **options)  # type: ignore[arg-type]
    return result.successful, result.failed


def stored(center: DataCenter) -> dict[Decimal, Decimal | None]:
    table = center.database.table(center.schema.table("fees"))
    with center.database.engine.connect() as conn:
        return dict(conn.execute(select(table.c.code, table.c.fee)).all())


@pytest.mark.parametrize("reader", ["csv", "arrow"])
def test_filters_compare_decimals_by_number(center: DataCenter, reader: str) -> None:
    assert imported(center, "a.csv", "1,9\n2,10\n3,100\n4,2.5\n5,-0\n6,1.0\n", reader=reader) == (
        6,
        0,
    )

    assert center.retire("fees", where=["fee>10"], dry_run=True) == (None, 1)
    assert center.retire("fees", where=["fee<10"], dry_run=True) == (None, 4)
    assert center.retire("fees", where=["fee=0"], dry_run=True) == (None, 1)
    assert center.retire("fees", where=["fee=1"], dry_run=True) == (None, 1)
    assert center.retire("fees", where=["fee>=10.00"], dry_run=True) == (None, 2)
    path, count = center.export("fees", where=["fee>10"])
    assert count == 1
    assert Path(path).read_text().splitlines() == ["code,fee", "3,100"]

    _, count = center.retire("fees", where=["fee>10"])
    assert count == 1
    assert sorted(stored(center)) == [1, 2, 4, 5, 6]


@pytest.mark.parametrize("reader", ["csv", "arrow"])
def test_a_decimal_key_is_one_value_however_it_is_written(center: DataCenter, reader: str) -> None:
    assert imported(center, "a.csv", "1,1\n2.50,2\n0.0000001,3\n", reader=reader) == (3, 0)

    assert imported(center, "b.csv", "1.00,4\n+2.5,5\n.00000010,6\n-0,7\n", reader=reader) == (1, 3)
    pending = (center.root / "b.create.pending.csv").read_text()
    assert pending.count("already exists") == 3
    assert stored(center) == {
        Decimal(1): Decimal(1),
        Decimal("2.5"): Decimal(2),
        Decimal("0.0000001"): Decimal(3),
        Decimal(0): Decimal(7),
    }
    assert imported(center, "c.csv", "1.0,8\n", mode="update") == (1, 0)
    assert imported(center, "d.csv", "2.500,\n", mode="remove") == (1, 0)
    assert stored(center)[Decimal(1)] == Decimal(8)
    assert Decimal("2.5") not in stored(center)


def test_decimals_are_exported_in_their_one_form(center: DataCenter) -> None:
    assert imported(center, "a.csv", "1.50,+2.000\n.5,0.10\n") == (2, 0)

    path, _ = center.export("fees")

    lines = Path(path).read_text().splitlines()
    assert lines[0] == "code,fee" and sorted(lines[1:]) == ["0.5,0.1", "1.5,2"]


@pytest.mark.parametrize(
    ("value", "form"),
    [
        (Decimal("1.0"), "1"),
        (Decimal("-0.00"), "0"),
        (Decimal("100"), "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-2.50"), "-2.5"),
        (
            Decimal("12345678901234567890.123456789012345678900"),
            "12345678901234567890.1234567890123456789",
        ),
    ],
)
def test_the_one_form_of_a_decimal(value: Decimal, form: str) -> None:
    assert decimal_text(value) == form


def test_decimals_an_earlier_release_stored_as_given_are_brought_to_their_form(
    tmp_path: Path,
) -> None:
    root = tmp_path / "dc"
    center = DataCenter(root, schema=parse_schema(SCHEMA), create=True)
    imported(center, "a.csv", "1,9\n")
    engine = center.database.engine
    with engine.begin() as conn:
        # What the release before wrote: the text as given, and no record of a rewrite.
        conn.execute(text("INSERT INTO fees VALUES ('2.0', '10.50'), ('3', '-0'), ('1.0', '1')"))
        conn.execute(text("DELETE FROM dc_decimal_forms"))
    center.close()

    again = DataCenter(root, schema=parse_schema(SCHEMA))
    assert again.retire("fees", where=["fee=10.5"], dry_run=True) == (None, 1)
    with again.database.engine.connect() as conn:
        rows = conn.execute(text("SELECT code, fee FROM fees ORDER BY rowid")).all()
    # '1.0' cannot become '1' beside the '1' there: it stays, and shows as its value.
    assert rows == [("1", "9"), ("2", "10.5"), ("3", "0"), ("1.0", "1")]
    assert imported(again, "b.csv", "2.00,11\n", mode="update") == (1, 0)
    assert imported(again, "c.csv", "2,\n", mode="remove") == (1, 0)
    assert again.retire("fees", where=["fee>0"], dry_run=True) == (None, 2)
    again.close()
