"""An import stopped before any of its rows went in never holds its file for ever."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.errors import ImportFailed

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text" }
"""


class Unforeseen(Exception):
    """What no one planned for: a failure of the import's own code or of the database."""


def stop(rows: int, fraction: float | None) -> None:
    raise Unforeseen


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)


def rows(count: int, name: str = "n") -> str:
    return "pid,name\n" + "".join(f"{n},{name}{n}\n" for n in range(count))


def stopped_before_any_commit(center: DataCenter) -> None:
    (center.root / "p.csv").write_text(rows(6))
    with pytest.raises(Unforeseen):
        center.import_file("p.csv", "people", chunk_size=2, on_progress=stop)
    with center.database.engine.connect() as conn:
        assert conn.execute(select(center.database.chunks)).first() is None
        assert conn.execute(select(center.database.imports)).first() is not None


def stored(center: DataCenter) -> list[str]:
    table = center.database.table(center.schema.table("people"))
    with center.database.engine.connect() as conn:
        return list(conn.execute(select(table.c.name).order_by(table.c.pid)).scalars())


def test_the_file_changed_after_such_a_stop_is_imported_afresh(center: DataCenter) -> None:
    stopped_before_any_commit(center)
    (center.root / "p.csv").write_text(rows(3, "fixed"))

    result = center.import_file("p.csv", "people")

    assert not result.resumed and result.all_ok
    assert stored(center) == ["fixed0", "fixed1", "fixed2"]


def test_the_same_file_after_such_a_stop_finishes_the_import(center: DataCenter) -> None:
    stopped_before_any_commit(center)

    result = center.import_file("p.csv", "people")

    assert result.resumed and result.successful == 6


def test_other_options_after_such_a_stop_start_a_new_import(center: DataCenter) -> None:
    stopped_before_any_commit(center)
    center.database.table(center.schema.table("people"))

    assert center.import_file("p.csv", "people", "update").failed == 6


def test_a_file_gone_after_such_a_stop_is_told_missing_and_forgotten(center: DataCenter) -> None:
    stopped_before_any_commit(center)
    (center.root / "p.csv").unlink()

    with pytest.raises(FileNotFoundError, match=r"no file 'p\.csv'"):
        center.import_file("p.csv", "people")
    (center.root / "p.csv").write_text(rows(1))
    assert center.import_file("p.csv", "people").all_ok


def test_once_rows_are_in_the_file_must_stay_as_it_was(center: DataCenter) -> None:
    (center.root / "p.csv").write_text(rows(6))
    calls = []

    def stop_at_the_second_commit(rows: int, fraction: float | None) -> None:
        calls.append(rows)
        if len(calls) == 2:
            raise Unforeseen

    with pytest.raises(Unforeseen):
        center.import_file(
            "p.csv", "people", chunk_size=2, commit_rows=2, on_progress=stop_at_the_second_commit
        )
    (center.root / "p.csv").write_text(rows(3, "other"))

    with pytest.raises(ImportFailed, match="changed since its import was interrupted"):
        center.import_file("p.csv", "people")
