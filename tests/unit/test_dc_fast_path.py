"""The fast path of create imports puts every row where the general path does.

Random files — mostly valid cells in every accepted spelling, some invalid,
some empty — are imported twice into fresh data centers: once as usual
(chunks whose cells all qualify go through :mod:`entrepot.datacenter.imports.fast_path`)
and once with the fast path switched off.  The stored values (with their
SQLite storage classes), the pending file with its messages, the finished
file and the counts must be identical.  ``tests/integration/test_dc_postgres_fast_path.py``
does the same against PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from entrepot.datacenter import DataCenter, parse_schema
from entrepot.datacenter.imports import fast_path

SCHEMA = """
[tables.things]
key = ["id"]
[tables.things.columns]
id = { type = "integer" }
label = { type = "text", max_length = 6 }
count = { type = "integer" }
price = { type = "decimal" }
flag = { type = "boolean" }
day = { type = "date" }
seen = { type = "datetime" }
kind = { type = "choice", choices = ["a", "b"] }
code = { type = "regex", pattern = "[A-Z]{2}[0-9]" }
need = { type = "text", required = true }
fee = { type = "decimal", default = "1.5" }
"""
COLUMNS = ["id", "label", "count", "price", "flag", "day", "seen", "kind", "code", "need", "fee"]


def mostly(valid: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid cells most of the time, so that whole chunks qualify often."""
    return st.one_of(valid, valid, valid, valid, valid, valid, odd)


INTEGERS = mostly(
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "+7", "007", "-0", "1.5", "x", "12345678901234567890", " 3", "٣"]),
)
DECIMALS = mostly(
    st.decimals(-10000, 10000, places=2, allow_nan=False).map(str),
    st.sampled_from(
        ["", "+1.5", ".5", "1.", "0.0000001", "0.000001", "-0", "-0.0", "1e3", "00.1", "x", "0.10"]
    ),
)
BOOLEANS = mostly(
    st.sampled_from(["true", "false", "yes", "no", "1", "0", "t", "f", "on", "off"]),
    st.sampled_from(["", "TRUE", "No", "Y", "tRuE", " yes", "maybe", "2"]),
)
DATES = mostly(
    st.dates().filter(lambda d: d.year >= 1000).map(str),
    st.sampled_from(["", "2024-02-30", "20240101", "2024-W01-1", "2024-1-1", "0000-01-01", "x"]),
)
DATETIMES = mostly(
    st.datetimes(allow_imaginary=False)
    .filter(lambda d: d.year >= 1000)
    .map(lambda d: d.isoformat(" ", "seconds" if d.microsecond % 2 else "microseconds")),
    st.sampled_from(
        [
            "",
            "2024-01-01T10:00:00",
            "2024-01-01 10:00",
            "2024-01-01 10:00:00+02:00",
            "2024-01-01 10:00:00.5",
            "2024-01-01 25:00:00",
            "2024-01-01",
        ]
    ),
)
TEXTS = mostly(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
    st.sampled_from(["", "toolong!", 'q"uo,te', "line\nbreak", "=1+2"]),
)
CHOICES = mostly(st.sampled_from(["a", "b"]), st.sampled_from(["", "c", "A", " a"]))
CODES = mostly(st.sampled_from(["AB1", "ZZ9", "QX0"]), st.sampled_from(["", "ab1", "AB12", "A1"]))
NEEDED = mostly(st.sampled_from(["x", "yy", "z z"]), st.just(""))
FEES = mostly(st.sampled_from(["2.5", "0", "10"]), st.sampled_from(["", "+1", "x"]))

ROW = st.tuples(
    st.integers(0, 40).map(str) | INTEGERS,
    TEXTS,
    INTEGERS,
    DECIMALS,
    BOOLEANS,
    DATES,
    DATETIMES,
    CHOICES,
    CODES,
    NEEDED,
    FEES,
)


def csv_text(rows: list[tuple[str, ...]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def stored(center: DataCenter) -> list[tuple[Any, ...]]:
    """Every stored cell with its storage class, in key order."""
    selected = ", ".join(f"typeof({name}), {name}" for name in COLUMNS)
    with center.database.engine.connect() as conn:
        return [
            tuple(row) for row in conn.execute(text(f"SELECT {selected} FROM things ORDER BY id"))
        ]


def import_once(folder: Path, content: str, chunk_size: int) -> dict[str, Any]:
    center = DataCenter(folder, schema=parse_schema(SCHEMA), create=True)
    try:
        (folder / "t.csv").write_text(content, encoding="utf-8", newline="")
        result = center.import_file("t.csv", "things", chunk_size=chunk_size)
        pending = folder / "t.create.pending.csv"
        finished = folder / "finished" / "t.create.finished.csv"
        return {
            "counts": (result.processed, result.successful, result.failed),
            "rows": stored(center),
            "pending": pending.read_text(encoding="utf-8") if pending.exists() else None,
            "finished": finished.read_text(encoding="utf-8") if finished.exists() else None,
        }
    finally:
        center.close()


def both_ways(content: str, chunk_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory() as folder:
        fast = import_once(Path(folder) / "fast", content, chunk_size)
        with monkeypatch.context() as patch:
            patch.setattr(fast_path, "sqlite_form", lambda *args, **kwargs: None)
            general = import_once(Path(folder) / "general", content, chunk_size)
    assert fast == general


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, min_size=1, max_size=10), chunk_size=st.sampled_from([1, 3, 50]))
def test_fast_and_general_paths_agree(
    rows: list[tuple[str, ...]], chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_ways(csv_text(rows, COLUMNS), chunk_size, monkeypatch)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, min_size=1, max_size=8))
def test_paths_agree_with_absent_and_ignored_columns(
    rows: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without 'fee' (a default) and with an ignored column in the middle.
    header = [*COLUMNS[:3], "--IGNORE--", *COLUMNS[3:10]]
    shaped = [(*row[:3], "skip", *row[3:10]) for row in rows]
    both_ways(csv_text(shaped, header), 4, monkeypatch)


def test_the_fast_path_is_taken_for_clean_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    real = fast_path.insert_prepared

    def spy(*args: Any, **kwargs: Any) -> None:
        taken.append("raw")
        real(*args, **kwargs)

    monkeypatch.setattr(fast_path, "insert_prepared", spy)
    rows = [
        (
            str(n),
            "ab",
            "+3",
            "1.25",
            "yes",
            "2024-01-02",
            "2024-01-02 03:04:05",
            "a",
            "AB1",
            "x",
            "",
        )
        for n in range(5)
    ]
    result = import_once(tmp_path / "dc", csv_text(rows, COLUMNS), 50)
    # The empty 'fee' cells take the default: only the general path fills those in.
    assert taken == [] and result["counts"] == (5, 5, 0)
    clean = [(*row[:10], "2") for row in rows]
    result = import_once(tmp_path / "dc2", csv_text(clean, COLUMNS), 50)
    assert taken == ["raw"] and result["counts"] == (5, 5, 0)
    assert result["rows"][0][:12] == (
        "integer",
        0,
        "text",
        "ab",
        "integer",
        3,
        "text",
        "1.25",
        "integer",
        1,
        "text",
        "2024-01-02",
    )
    assert result["rows"][0][12:14] == ("text", "2024-01-02 03:04:05.000000")


# -- column by column: many more cases, straight against SQLite -------------------

CELLS = {
    "integer": INTEGERS,
    "decimal": DECIMALS,
    "boolean": BOOLEANS,
    "date": DATES,
    "datetime": DATETIMES,
    "text": TEXTS,
    "choice": CHOICES,
    "regex": CODES,
}
#: Column kinds by name: the type and its options.
SPECS: dict[str, dict[str, Any]] = {
    "integer": {},
    "decimal": {},
    "boolean": {},
    "date": {},
    "datetime": {},
    "text": {"max_length": 6},
    "choice": {"choices": ["a", "b"]},
    "regex": {"pattern": "[A-Z]{2}[0-9]"},
    # Patterns and choices that take the empty cell too.
    "regex-empty": {"type": "regex", "pattern": "[A-Z]*[0-9]?"},
    "choice-empty": {"type": "choice", "choices": ["a", ""]},
}
CELLS["regex-empty"] = CODES
CELLS["choice-empty"] = CHOICES


def column_spec(kind: str) -> Any:
    from entrepot.datacenter.table_schema import ColumnSpec

    options = dict(SPECS[kind])
    return ColumnSpec(**{"type": kind, **options})


@settings(max_examples=400, deadline=None)
@given(data=st.data(), kind=st.sampled_from(sorted(CELLS)), required=st.booleans())
def test_each_fast_form_stores_what_the_general_path_stores(
    data: st.DataObject, kind: str, required: bool
) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert

    from entrepot.datacenter.database import _sql_type
    from entrepot.datacenter.values import ColumnConverter

    spec = column_spec(kind)
    # Cells all alike in shape now and then, so that whole columns qualify often.
    same_shape = data.draw(st.booleans())
    strategy = CELLS[kind]
    if same_shape and kind == "datetime":
        strategy = (
            st.datetimes(allow_imaginary=False)
            .filter(lambda d: d.year >= 1000)
            .map(lambda d: d.isoformat(" ", "seconds"))
        )
    cells = data.draw(st.lists(strategy, min_size=1, max_size=8))
    form = fast_path.sqlite_form(spec, cells, required=required)
    if form is None:
        return
    values, errors = ColumnConverter("c", spec).convert(cells, required=required)
    assert errors == {}
    engine = create_engine("sqlite://")
    table = Table(
        "t", MetaData(), Column("n", Integer, primary_key=True), Column("c", _sql_type(spec))
    )
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"n": n, "c": value} for n, value in enumerate(values)])
        general = conn.execute(text("SELECT typeof(c), c FROM t ORDER BY n")).all()
        conn.execute(text("DELETE FROM t"))
        raw = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        bound = [] if form == "NULL" else None
        raw.executemany(
            f"INSERT INTO t (n, c) VALUES (?, {form})",
            [(n, *([] if bound is not None else [cell])) for n, cell in enumerate(cells)],
        )
        fast = conn.execute(text("SELECT typeof(c), c FROM t ORDER BY n")).all()
    engine.dispose()
    assert fast == general, (form, cells)


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(DATES, max_size=6),
    # Year 0, a day the month lacks, a leap day: among the cells now and then.
    extra=st.sampled_from([[], ["0000-01-01"], ["2023-02-29"], ["2024-02-29"]]),
)
def test_arrow_and_python_agree_on_which_cells_are_dates(
    cells: list[str], extra: list[str]
) -> None:
    import pyarrow as pa

    from entrepot.datacenter.imports.arrow_reader import ArrowCells
    from entrepot.datacenter.imports.cells import CellList

    shaped = [cell for cell in cells + extra if fast_path._DATE.fullmatch(cell)]
    arrow = ArrowCells(pa.chunked_array([pa.array(shaped, pa.string())]))
    assert arrow.all_dates() == CellList(shaped).all_dates(), shaped
