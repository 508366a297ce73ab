"""Transactions of several chunks: what an interruption keeps, and the look-ups they skip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ImportFailed

SCHEMA = """
[tables.items]
key = ["id"]
[tables.items.columns]
id = { type = "integer" }
name = { type = "text", required = true }
"""


@pytest.fixture
def center(tmp_path: Path) -> Any:
    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    yield center
    center.close()


def put_items(center: DataCenter, name: str, ids: list[int]) -> None:
    lines = ["id,name", *(f"{number},item {number}" for number in ids)]
    (center.root / name).write_text("\n".join(lines) + "\n")


def stored(center: DataCenter) -> tuple[list[int], int]:
    """The ids in the table, and the number of chunk rows in the bookkeeping."""
    db = center.database
    table = db.table(center.schema.table("items"))
    with db.engine.connect() as conn:
        ids = sorted(conn.execute(select(table.c.id)).scalars())
        chunks = conn.execute(select(func.count()).select_from(db.chunks)).scalar_one()
    return ids, chunks


class Interrupt(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_an_interruption_keeps_the_committed_transactions_and_the_next_run_finishes(
    center: DataCenter, reader: str
) -> None:
    put_items(center, "items.csv", list(range(1, 101)))

    def stop_after_five_chunks(rows: int, fraction: float | None) -> None:
        if rows == 50:
            raise Interrupt

    with pytest.raises(Interrupt):
        center.import_file(
            "items.csv", "items", chunk_size=10, commit_rows=30, reader=reader,
            on_progress=stop_after_five_chunks,
        )  # fmt: skip
    # Chunks 0-2 were committed together; chunks 3 and 4 were in the open
    # transaction, rolled back with their bookkeeping rows.
    assert stored(center) == (list(range(1, 31)), 3)

    result = center.import_file("items.csv", "items", chunk_size=10, commit_rows=30)
    assert result.resumed and (result.successful, result.failed) == (100, 0)
    assert stored(center) == (list(range(1, 101)), 10)


def test_a_read_failure_commits_the_chunks_written_before_it(center: DataCenter) -> None:
    ids = list(range(1, 41))
    put_items(center, "long.csv", ids)
    with open(center.root / "long.csv", "a") as handle:
        handle.write(f"41,{'x' * 100}\n42,short\n")

    with pytest.raises(ImportFailed, match="max_field"):
        center.import_file("long.csv", "items", chunk_size=10, max_field=64)
    # The four chunks before the long cell are in, so the import is not
    # forgotten: it finishes with the limit raised.
    assert stored(center) == (ids, 4)
    result = center.import_file("long.csv", "items", chunk_size=10, max_field=128)
    assert result.resumed and result.successful == 42


def test_keys_below_the_greatest_stored_are_still_looked_up(center: DataCenter) -> None:
    put_items(center, "first.csv", list(range(1, 101)))
    assert center.import_file("first.csv", "items").all_ok
    # One transaction: a chunk above every stored key, then one reaching
    # back into them, then one in a gap above them.
    put_items(center, "second.csv", [*range(201, 211), *range(95, 105), *range(150, 160)])

    result = center.import_file("second.csv", "items", chunk_size=10)

    assert (result.successful, result.failed) == (24, 6)
    pending = (center.root / "second.create.pending.csv").read_text()
    assert pending.count("already exists") == 6 and "95,item 95,id: already exists: '95'" in pending
    ids, _ = stored(center)
    assert ids == [*range(1, 105), *range(150, 160), *range(201, 211)]
