"""Which files Arrow reads in an import, and that compressed ones are read decompressed."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.imports import arrow_reader, fast_path

SCHEMA = """
[tables.t]
key = ["id"]
[tables.t.columns]
id = { type = "integer" }
name = { type = "text" }
"""

TAKEOVER = "datacenter.csv_reader_takes_over"


@pytest.fixture
def center(tmp_path: Path) -> Iterator[DataCenter]:
    made = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    yield made
    made.close()


def names(center: DataCenter) -> list[tuple[int, str]]:
    with center.database.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT id, name FROM t ORDER BY id"))]


def test_a_gzip_file_is_read_by_arrow_decompressed(
    center: DataCenter, caplog: pytest.LogCaptureFixture
) -> None:
    rows = "".join(f"{n},name {n}\n" for n in range(1, 501))
    with gzip.open(center.root / "t.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        handle.write("id,name\n" + rows)
    with caplog.at_level(logging.DEBUG, logger="entrepot"):
        result = center.import_file("t.csv.gz", "t", chunk_size=100)
    assert (result.successful, result.failed) == (500, 0)
    assert not [r for r in caplog.records if r.getMessage().startswith(TAKEOVER)]
    assert names(center)[:2] == [(1, "name 1"), (2, "name 2")]
    assert len(names(center)) == 500


def test_the_csv_module_takes_over_at_the_chunk_arrow_cannot_read(
    center: DataCenter, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow parses a block at a time: small blocks, so that the error
    # surfaces in a later block than the first chunks.
    monkeypatch.setattr(arrow_reader, "BLOCK_SIZE", 512)
    lines = [f"{n},name {n}" for n in range(1, 301)]
    lines[250] = "251"  # a short row in the third chunk of 100
    (center.root / "t.csv").write_text("id,name\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="entrepot"):
        result = center.import_file("t.csv", "t", chunk_size=100)
    takeovers = [r.getMessage() for r in caplog.records if r.getMessage().startswith(TAKEOVER)]
    assert len(takeovers) == 1
    assert "chunk=2" in takeovers[0]
    assert (result.processed, result.successful, result.failed) == (300, 299, 1)
    pending = (center.root / "t.create.pending.csv").read_text(encoding="utf-8")
    assert pending.splitlines()[1:] == ['251,"row: has 1 cells, the header has 2"']
    assert [row[0] for row in names(center)] == [n for n in range(1, 301) if n != 251]


def test_another_encoding_is_read_by_the_csv_module(
    center: DataCenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(arrow_reader, "read_chunks", lambda *args: calls.append(args) or iter(()))
    (center.root / "t.csv").write_bytes("id,name\n1,Müller\n".encode("latin-1"))
    result = center.import_file("t.csv", "t", encoding="latin-1")
    assert calls == []
    assert result.successful == 1
    assert names(center) == [(1, "Müller")]


MIXED_SCHEMA = """
[tables.t]
key = ["id"]
[tables.t.columns]
id = { type = "integer" }
name = { type = "text", required = true }
age = { type = "integer" }
"""


def import_mixed(folder: Path, reader: str) -> tuple[Any, str, list[tuple[Any, ...]]]:
    lines = [f"{n},name {n},{20 + n % 50}" for n in range(1, 101)]
    lines[9] = "10,name 10,ten"  # not an integer
    lines[49] = "50,,33"  # a required cell empty
    lines[69] = "7,dup,40"  # the key of row 7 again
    lines[89] = "x,bad key,41"  # no key at all
    center = DataCenter(folder, schema=parse_schema(MIXED_SCHEMA), create=True)
    try:
        (folder / "t.csv").write_text("id,name,age\n" + "\n".join(lines) + "\n", encoding="utf-8")
        result = center.import_file("t.csv", "t", chunk_size=100, reader=reader)
        pending = (folder / "t.create.pending.csv").read_text(encoding="utf-8")
        with center.database.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text("SELECT id, name, age FROM t ORDER BY id"))]
        return (result.processed, result.successful, result.failed), pending, rows
    finally:
        center.close()


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_a_chunk_with_a_few_bad_rows_takes_the_fast_path_for_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    inserted: list[int] = []
    real = fast_path.insert_prepared

    def spy(*args: Any) -> None:
        inserted.append(args[4].count)
        real(*args)

    monkeypatch.setattr(fast_path, "insert_prepared", spy)
    fast = import_mixed(tmp_path / "fast", reader)
    assert inserted == [96]
    # The general path, cell by cell, ends in the very same state.
    monkeypatch.setattr(fast_path, "sqlite_form", lambda *args, **kwargs: None)
    general = import_mixed(tmp_path / "general", reader)
    assert inserted == [96]
    assert fast == general
    counts, pending, rows = fast
    assert counts == (100, 96, 4)
    assert pending.splitlines()[1:] == [
        "10,name 10,ten,age: not an integer: 'ten'",
        '50,,33,"name: missing, but required"',
        '7,dup,40,"id: key given twice in this file, first on row 8"',
        "x,bad key,41,id: not an integer: 'x'",
    ]
    assert len(rows) == 96 and rows[0] == (1, "name 1", 21)


def test_without_the_arrow_extra_the_csv_module_reads_everything(tmp_path: Path) -> None:
    # A fresh interpreter in which pyarrow cannot be imported.
    script = f"""
import sys
sys.modules["pyarrow"] = None
from pathlib import Path
from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.imports import arrow_reader
assert not arrow_reader.AVAILABLE
root = Path({str(tmp_path / "dc")!r})
center = DataCenter(root, schema=parse_schema({SCHEMA!r}), create=True)
(root / "t.csv").write_text("id,name\\n1,a\\n2,b\\nx,c\\n", encoding="utf-8")
result = center.import_file("t.csv", "t")
print(result.processed, result.successful, result.failed)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "2", "1"]
