"""Whole imports end in the very same state whichever reader is named, Arrow or ``csv``.

Where Arrow cannot read a stretch of the file, the ``csv`` module takes over
(``test_dc_arrow_reader.py`` compares the two readers chunk by chunk);
``tests/integration/test_dc_postgres_arrow_reader.py`` does the comparison
against PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.imports import arrow_reader
from entrepot.datacenter.imports.arrow_reader import Unreadable
from entrepot.datacenter.imports.options import Reader
from tests.unit.test_dc_arrow_reader import written
from tests.unit.test_dc_crash import SCHEMA as PEOPLE
from tests.unit.test_dc_fast_path import COLUMNS, ROW, SCHEMA, stored


def import_with(
    folder: Path,
    data: bytes,
    chunk_size: int,
    reader: Reader,
    *,
    encoding: str = "utf-8-sig",
    schema: str = SCHEMA,
    table: str = "things",
    columns: list[str] = COLUMNS,
    **changes: Any,
) -> dict[str, Any]:
    center = DataCenter(folder, schema=parse_schema(schema), create=True)
    try:
        (folder / "t.csv").write_bytes(data)
        result = center.import_file(
            "t.csv", table, chunk_size=chunk_size, reader=reader, encoding=encoding, **changes
        )
        return outcome_of(center, result, table, columns)
    finally:
        center.close()


def outcome_of(center: DataCenter, result: Any, table: str, columns: list[str]) -> dict[str, Any]:
    from sqlalchemy import text

    folder = center.root
    pending = folder / "t.create.pending.csv"
    finished = folder / "finished" / "t.create.finished.csv"
    if columns is COLUMNS:
        rows = stored(center)
    else:
        selected = ", ".join(f"typeof({name}), {name}" for name in columns)
        with center.database.engine.connect() as conn:
            query = text(f"SELECT {selected} FROM {table} ORDER BY {columns[0]}")
            rows = [tuple(row) for row in conn.execute(query)]
    return {
        "counts": (result.processed, result.successful, result.failed),
        "rows": rows,
        "pending": pending.read_text(encoding="utf-8") if pending.exists() else None,
        "finished": finished.read_text(encoding="utf-8") if finished.exists() else None,
    }


class ReadSpy:
    """Counts the chunks Arrow yields in an import, and whether it gave up."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self.calls = 0
        self.gave_up = False
        real = arrow_reader.read_chunks

        def spy(*args: Any, **kwargs: Any) -> Iterator[Any]:
            self.calls += 1
            try:
                for chunk in real(*args, **kwargs):
                    self.sizes.append(len(chunk))
                    yield chunk
            except Unreadable:
                self.gave_up = True
                raise

        monkeypatch.setattr(arrow_reader, "read_chunks", spy)

    def reset(self) -> None:
        self.sizes, self.calls, self.gave_up = [], 0, False


@st.composite
def import_files(draw: Any) -> tuple[bytes, int]:
    rows = draw(st.lists(ROW, min_size=1, max_size=10))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [written(COLUMNS, terminator), *(written(row, terminator) for row in rows)]
    if draw(st.booleans()):
        spot = draw(st.integers(1, len(lines)))
        bad = draw(st.sampled_from(["blank", "short", "long", "empty-cells"]))
        if bad == "blank":
            line = terminator
        elif bad == "empty-cells":
            line = written([""] * len(COLUMNS), terminator)
        else:
            row = list(draw(ROW))
            line = written(row[:5] if bad == "short" else [*row, "extra"], terminator)
        lines.insert(spot, line)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + "".join(lines).encode("utf-8"), draw(st.sampled_from([1, 3, 50]))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=import_files())
def test_both_readers_import_alike(
    file: tuple[bytes, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, chunk_size = file
    spy = ReadSpy(monkeypatch)
    with tempfile.TemporaryDirectory() as folder:
        arrow = import_with(Path(folder) / "arrow", data, chunk_size, "arrow")
        assert spy.calls == 1
        csv_only = import_with(Path(folder) / "csv", data, chunk_size, "csv")
        assert spy.calls == 1
    assert arrow == csv_only


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def people(count: int, spoil: dict[int, str] | None = None, terminator: str = "\n") -> bytes:
    """``count`` rows, the row numbered ``n`` replaced by the line ``spoil[n]``."""
    lines = ["pid,name,score"]
    for number in range(1, count + 1):
        name = "" if number % 9 == 0 else f'person {number}, "q"'
        line = written([str(number), name, f"{number}.5"], "").strip()
        lines.append((spoil or {}).get(number, line))
    return (terminator.join(lines) + terminator).encode()


@pytest.mark.parametrize(
    ("line", "number"),
    [("", 13), ("13,short", 13), ("13,a,1,extra", 13), (",,", 13), ("", 21)],
    ids=["blank", "short", "long", "empty-cells", "blank-at-a-chunk-start"],
)
def test_the_csv_module_takes_over_where_arrow_cannot_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    line: str,
    number: int,
) -> None:
    from entrepot.datacenter.imports.source import SourceFile

    data = people(30, {number: line})
    numbered: list[tuple[int, int]] = []
    real_chunks = SourceFile.chunks

    def chunks(self: SourceFile, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for found in real_chunks(self, *args, **kwargs):
            numbered.append((found[0], found[1]))
            yield found

    monkeypatch.setattr(SourceFile, "chunks", chunks)
    spy = ReadSpy(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="entrepot")
    # Arrow parses a block at a time and refuses a block with a short or long
    # row whole: small blocks let it read the early chunks of a small file.
    monkeypatch.setattr(arrow_reader, "BLOCK_SIZE", 64)
    arrow = import_with(
        tmp_path / "arrow", data, 4, "arrow", schema=PEOPLE, table="people", columns=COLUMNS_P
    )
    # Rows 1-12 are in chunks 0-2; row 13 (row 21) is in chunk 3 (chunk 5).
    first_unreadable = (number - 1) // 4
    assert spy.gave_up and spy.sizes == [4] * len(spy.sizes)
    if "," not in line or line == ",,":
        assert len(spy.sizes) == first_unreadable
    else:
        assert 1 <= len(spy.sizes) <= first_unreadable
    (event,) = [r for r in caplog.records if "datacenter.csv_reader_takes_over" in r.message]
    assert event.fields["chunk"] == len(spy.sizes)  # type: ignore[attr-defined]
    # Each chunk once, in order, the csv module's ones after Arrow's: every row read once.
    assert [n for n, _ in numbered] == list(range(len(numbered)))
    assert sum(size for _, size in numbered) == arrow["counts"][0] == 30
    assert [size for _, size in numbered[: len(spy.sizes)]] == spy.sizes
    # Every row in exactly one place: the database and finished file, or the pending file.
    finished = _rows(tmp_path / "arrow" / "finished" / "t.create.finished.csv")
    pending = _rows(tmp_path / "arrow" / "t.create.pending.csv")
    assert len(finished) + len(pending) == 30
    assert [row[1] for row in arrow["rows"]] == sorted(int(row[0]) for row in finished)
    spy.reset()
    csv_only = import_with(
        tmp_path / "csv", data, 4, "csv", schema=PEOPLE, table="people", columns=COLUMNS_P
    )
    assert spy.calls == 0
    assert arrow == csv_only


COLUMNS_P = ["pid", "name", "score"]


def both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, **options: Any
) -> tuple[dict[str, Any], ReadSpy]:
    spy = ReadSpy(monkeypatch)
    options = {"schema": PEOPLE, "table": "people", "columns": COLUMNS_P, **options}
    arrow = import_with(tmp_path / "arrow", data, options.pop("chunk_size", 4), "arrow", **options)
    arrow_spy = ReadSpy.__new__(ReadSpy)
    arrow_spy.__dict__.update(spy.__dict__)
    spy.reset()
    csv_only = import_with(tmp_path / "csv", data, 4, "csv", **options)
    assert spy.calls == 0
    assert arrow == csv_only
    return arrow, arrow_spy


def test_bom_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, spy = both_readers(tmp_path, monkeypatch, b"\xef\xbb\xbf" + people(10))
    assert spy.sizes == [4, 4, 2] and not spy.gave_up
    assert result["counts"] == (10, 9, 1)
    assert result["finished"].startswith("pid,")


def test_crlf_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, spy = both_readers(tmp_path, monkeypatch, people(10, terminator="\r\n"))
    assert spy.sizes == [4, 4, 2] and not spy.gave_up
    assert result["rows"][0] == ("integer", 1, "text", 'person 1, "q"', "text", "1.5")


@pytest.mark.parametrize("with_cr", [False, True], ids=["lf-only", "with-cr"])
def test_quoted_newlines_and_quotes_in_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_cr: bool
) -> None:
    names = ['say "hi"', "two\nlines", '"', ",", "tab\tand \\N", "a\n\nb", "\\"]
    if with_cr:
        names[5:5] = ["cr\r\nlf", "lone\rcr"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS_P)
    writer.writerows([n, name, "1"] for n, name in enumerate(names, 1))
    result, spy = both_readers(tmp_path, monkeypatch, buffer.getvalue().encode())
    if with_cr:
        # A carriage return in a cell: the csv module reads the chunk instead.
        assert spy.gave_up and spy.sizes == [4]
    else:
        assert spy.sizes == [4, 3] and not spy.gave_up
    assert [row[3] for row in result["rows"]] == names


def test_one_megabyte_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * (1024 * 1024)
    data = f'pid,name,score\n1,a,1\n2,"{big}, quoted",2\n3,{big},3\n4,d,4\n'.encode()
    # Cells of a megabyte and more are taken once the limit (1 MiB) is raised.
    result, spy = both_readers(tmp_path, monkeypatch, data, chunk_size=2, max_field=2 << 20)
    assert result["counts"] == (4, 4, 0)
    assert [len(row[3]) for row in result["rows"]] == [1, len(big) + 8, len(big), 1]
    assert spy.sizes == [2, 2] and not spy.gave_up


def test_a_latin1_file_is_read_by_the_csv_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = "pid,name,score\n1,Zoë Müller,1\n2,Ça,2\n".encode("latin-1")
    assert not arrow_reader.readable("latin-1", ["pid", "name", "score"])
    result, spy = both_readers(tmp_path, monkeypatch, data, encoding="latin-1")
    assert spy.calls == 0
    assert [row[3] for row in result["rows"]] == ["Zoë Müller", "Ça"]


class Interrupted(Exception):
    pass


def interrupted_then_resumed(
    folder: Path, data: bytes, first: Reader, then: Reader, after: int
) -> dict[str, Any]:
    center = DataCenter(folder, schema=parse_schema(PEOPLE), create=True)
    try:
        (folder / "t.csv").write_bytes(data)

        def stop(rows: int, fraction: float | None) -> None:
            if rows >= after:
                raise Interrupted

        with pytest.raises(Interrupted), mock.patch.object(arrow_reader, "BLOCK_SIZE", 64):
            center.import_file("t.csv", "people", chunk_size=4, reader=first, on_progress=stop)
        result = center.import_file("t.csv", "people", chunk_size=4, reader=then)
        assert result.resumed
        return outcome_of(center, result, "people", COLUMNS_P)
    finally:
        center.close()


@pytest.mark.parametrize("after", [8, 20])
@pytest.mark.parametrize(
    ("first", "then"), [("arrow", "csv"), ("csv", "arrow"), ("arrow", "arrow")]
)
def test_a_resumed_import_may_change_its_reader(
    tmp_path: Path, first: Reader, then: Reader, after: int
) -> None:
    # Arrow gives up at chunk 3 (row 14 is short): 'after=20' stops past it.
    data = people(30, {14: "14,short"})
    whole = import_with(
        tmp_path / "whole", data, 4, "csv", schema=PEOPLE, table="people", columns=COLUMNS_P
    )
    assert whole["counts"] == (30, 26, 4)
    assert interrupted_then_resumed(tmp_path / "mixed", data, first, then, after) == whole


# -- the command line ----------------------------------------------------------------


def test_the_command_line_names_the_reader(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "dc"
    DataCenter(root, create=True).close()
    (root / "schema.toml").write_text(PEOPLE)
    (root / "t.csv").write_bytes(people(5))
    spy = ReadSpy(monkeypatch)
    args = ("--root", root, "-t", "people", "--no-ledger")
    code, out, err = cli("dc", "import", "t.csv", *args, "--reader", "bogus")
    assert code == 2, out + err
    assert "--reader" in err
    assert (root / "t.csv").exists() and spy.calls == 0
    code, out, err = cli("dc", "import", "t.csv", *args, "--reader", "csv")
    assert code == 0, out + err
    assert spy.calls == 0
    assert len(_rows(root / "finished" / "t.create.finished.csv")) == 5
    (root / "u.csv").write_bytes(b"pid,name,score\n101,a,1\n102,b,2\n")
    code, out, err = cli("dc", "import", "u.csv", *args)
    assert code == 0, out + err
    assert spy.calls == 1 and spy.sizes == [2]
