"""The rows of a SQLite import reach the database file while its files are placed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from entrepot.datacenter import Database, DataCenter, parse_schema

SCHEMA = """
[tables.items]
key = ["id"]
[tables.items.columns]
id = { type = "integer" }
"""


def rows_in_the_file_itself(path: Path) -> int:
    # immutable=1 reads the database file alone, without its write-ahead log.
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
        except sqlite3.OperationalError:  # no such table: still in the log
            return 0


def test_the_log_is_copied_into_the_database_while_the_files_are_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    real = Database.checkpoint_soon

    def spy(self: Database) -> Any:
        thread = real(self)
        started.append(thread)
        return thread

    monkeypatch.setattr(Database, "checkpoint_soon", spy)
    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    path = Path(str(center.database.url.database))
    try:
        for number, name in enumerate(["a.csv", "b.csv"], start=1):
            ids = range(10 * number, 10 * number + number)
            (center.root / name).write_text("id\n" + "".join(f"{n}\n" for n in ids))
            importer = center.importer(name, "items")
            importer.prepare()
            importer.produce()
            # Committed, and in the log only while the connection is open.
            before = rows_in_the_file_itself(path)
            importer.send()
            importer.cleanup()
            started[-1].join()
            assert rows_in_the_file_itself(path) == before + number
        # One for each import, each in a thread of its own.
        assert len(started) == 2 and started[0] is not started[1]
    finally:
        center.close()
