"""Which files Arrow reads in an import, and that compressed ones are read decompressed."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from entrepot.datacenter import DataCenter, columnar, parse_schema

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
    monkeypatch.setattr(columnar, "BLOCK_SIZE", 512)
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
    monkeypatch.setattr(columnar, "read_chunks", lambda *args: calls.append(args) or iter(()))
    (center.root / "t.csv").write_bytes("id,name\n1,Müller\n".encode("latin-1"))
    result = center.import_file("t.csv", "t", encoding="latin-1")
    assert calls == []
    assert result.successful == 1
    assert names(center) == [(1, "Müller")]
