"""Arrow reads a CSV file exactly as the ``csv`` module does, or gives it up.

:mod:`entrepot.datacenter.imports.arrow_reader` lets Apache Arrow parse and check the
chunks of an import wherever it reads them as ``csv.reader`` would, and
hands the rest of the file to the ``csv`` module where it cannot.  These
tests compare the two readers: on random (and deliberately malformed) files,
chunk by chunk, and on random columns, question by question of the ``Cells``
interface.  Whole imports, which must end in the very same state whichever
reader is named, are compared in ``test_dc_arrow_imports.py``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrepot.datacenter.imports import arrow_reader, fast_path
from entrepot.datacenter.imports.arrow_reader import ArrowCells, Unreadable
from entrepot.datacenter.imports.cells import CellList
from entrepot.datacenter.values import BOOLEAN_WORDS
from tests.unit.test_dc_fast_path import CELLS, column_spec

# -- the file, chunk by chunk --------------------------------------------------------

#: Characters that matter to a CSV parser, and a few that should not.
PARSER_CHARACTERS = st.sampled_from(
    [
        ",",
        '"',
        "\n",
        "\r",
        "a",
        "b",
        "0",
        " ",
        "\t",
        "\\",
        "é",
        "€",
        "😀",
        "\u2028",
        "\x85",
        "'",
        "=",
        "-",
        "\uff1d",
    ]
)
CELL = st.one_of(
    st.text(PARSER_CHARACTERS, max_size=5),
    st.sampled_from(["", "\r\n", '""', '"', "x,y"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=4),
)
#: Header names: one line each (a multi-line header leaves Arrow out, see readable()).
NAME = st.text(st.sampled_from(["a", "b", ",", '"', " ", "é"]), min_size=1, max_size=3)


def written(cells: list[str] | tuple[str, ...], terminator: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerow(cells)
    return buffer.getvalue()


def _simple(draw: Any) -> str:
    return str(draw(st.text(st.sampled_from("abcé1"), min_size=1, max_size=3)))


@st.composite
def malformation(draw: Any, width: int, terminator: str) -> str:
    """A line that csv.reader reads otherwise than a clean row, or not as ``width`` cells."""
    kind = draw(
        st.sampled_from(
            ["blank", "short", "long", "empty-cells", "stray-quote", "after-quote", "unterminated"]
        )
    )
    if kind == "blank":
        return terminator
    if kind == "short":
        count = draw(st.integers(0, width - 1)) if width > 1 else 0
        return written([_simple(draw) for _ in range(count)], terminator) if count else terminator
    if kind == "long":
        extra = draw(st.integers(1, 2))
        return written([_simple(draw) for _ in range(width + extra)], terminator)
    if kind == "empty-cells":
        return written([""] * width, terminator)
    cells = [_simple(draw) for _ in range(width)]
    spot = draw(st.integers(0, width - 1))
    if kind == "stray-quote":
        # A quote inside an unquoted cell is an ordinary character.
        cells[spot] = f'{_simple(draw)}"{_simple(draw)}'
    elif kind == "after-quote":
        # Text after a closing quote joins the cell.
        cells[spot] = f'"{_simple(draw)}"{_simple(draw)}'
    else:
        cells[spot] = f'"{_simple(draw)}{draw(st.sampled_from(["", terminator, ",x"]))}'
    return ",".join(cells) + terminator


@st.composite
def csv_files(draw: Any) -> tuple[bytes, int, bool]:
    """A file's bytes, its header width, and whether it was made malformed."""
    width = draw(st.integers(1, 4))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header = draw(st.lists(NAME, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=9))
    lines = [written(header, terminator), *(written(row, terminator) for row in rows)]
    spoiled = draw(st.booleans())
    if spoiled:
        for _ in range(draw(st.integers(1, 2))):
            spot = draw(st.integers(1, len(lines)))
            lines.insert(spot, draw(malformation(width, terminator)))
    text = "".join(lines)
    if draw(st.booleans()):
        text = text.removesuffix(terminator)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode("utf-8"), width, spoiled


def csv_module_rows(data: bytes) -> list[list[str]]:
    """The rows as the importer's csv path reads them: header, then data rows."""
    csv.field_size_limit(2**31 - 1)
    handle = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    return list(csv.reader(handle))


def clean(rows: list[list[str]], width: int) -> bool:
    """Whether every row is one Arrow reads: ``width`` cells, not all empty, no CR."""
    return all(
        len(row) == width and any(row) and not any("\r" in cell for cell in row) for row in rows
    )


def read_all(data: bytes, width: int, chunk_size: int, block_size: int | None) -> Iterator[Any]:
    """read_chunks(), Arrow parsing ``block_size`` bytes at a time (its own when ``None``)."""
    with mock.patch.object(arrow_reader, "BLOCK_SIZE", block_size or arrow_reader.BLOCK_SIZE):
        yield from arrow_reader.read_chunks(io.BytesIO(data), width, chunk_size)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    file=csv_files(),
    chunk_size=st.integers(1, 4),
    block_size=st.sampled_from([None, None, 16, 64]),
)
def test_arrow_reads_every_chunk_as_the_csv_module_or_gives_up(
    file: tuple[bytes, int, bool], chunk_size: int, block_size: int | None
) -> None:
    data, width, spoiled = file
    header, *expected = csv_module_rows(data)
    if not arrow_reader.readable("utf-8-sig", header):
        return
    got: list[list[str]] = []
    sizes: list[int] = []
    try:
        for chunk in read_all(data, width, chunk_size, block_size):
            rows = chunk.rows()
            sizes.append(len(rows))
            got.extend(rows)
            # Every chunk is right when it comes, not only the whole.
            assert got == expected[: len(got)], (data, chunk_size)
    except Unreadable:
        # Given up at a chunk boundary, after full chunks only.  Never on a clean
        # file, but for a lone header line without its line break (no rows to
        # read) or a row longer than a block (as the tiny blocks make many).
        assert all(size == chunk_size for size in sizes)
        assert block_size or expected == [] or not clean(expected, width), (data, chunk_size)
        return
    assert got == expected, (data, chunk_size)
    assert all(size == chunk_size for size in sizes[:-1]) and all(sizes)
    if not spoiled:
        assert clean(expected, width)


def test_a_quoted_crlf_across_a_block_boundary_is_left_to_the_csv_module() -> None:
    # Arrow reads a quoted CR LF whose CR ends a block as a lone CR (and drops
    # the LF): cells with a carriage return make it give up instead.
    header = "a,b\r\n"
    # The quoted cell's CR is the last byte of Arrow's first block.
    filler = "x" * (arrow_reader.BLOCK_SIZE - len(header) - 6)
    data = f'{header}1,{filler}\r\n"\r\n",y\r\n2,z\r\n'.encode()
    assert data.index(b'"\r\n"') + 1 == arrow_reader.BLOCK_SIZE - 1
    expected = csv_module_rows(data)[1:]
    assert expected[1] == ["\r\n", "y"]
    got: list[list[str]] = []
    with pytest.raises(Unreadable, match="carriage return"):
        for chunk in read_all(data, 2, 1, None):
            got.extend(chunk.rows())
    assert got == expected[:1]


@pytest.mark.parametrize(
    ("line", "cells"),
    [
        ('"x"y,z', ["xy", "z"]),
        ('x"y,z', ['x"y', "z"]),
        ('"a"b"c",z', ['ab"c"', "z"]),
        ('"a""b",""', ['a"b', ""]),
        ('1, "x"', ["1", ' "x"']),
    ],
)
def test_odd_but_whole_rows_are_read_alike(line: str, cells: list[str]) -> None:
    data = f"a,b\r\n{line}\r\nq,r\r\n".encode()
    assert csv_module_rows(data)[1:] == [cells, ["q", "r"]]
    (chunk,) = arrow_reader.read_chunks(io.BytesIO(data), 2, 10)
    assert chunk.rows() == [cells, ["q", "r"]]


@pytest.mark.parametrize(
    "line",
    ["", ",", '"",""', "1", "1,2,3", '"open,end', '"cr\r\nlf",x', '"lone\rcr",x'],
    ids=["blank", "empty-cells", "quoted-empty", "short", "long", "unterminated", "crlf", "cr"],
)
def test_arrow_gives_up_before_the_chunk_it_cannot_read(line: str) -> None:
    rows = [[str(n), str(n)] for n in range(10, 30)]
    data = ("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows) + f"{line}\n7,8\n").encode()
    got: list[list[str]] = []
    with pytest.raises(Unreadable):
        for chunk in read_all(data, 2, 2, 16):
            got.extend(chunk.rows())
    # Blocks of 16 bytes: Arrow read the blocks before the bad line's, rightly.
    assert 16 <= len(got) <= 20 and got == rows[: len(got)]


# -- the questions of the Cells interface --------------------------------------------

#: Cells that a regular expression engine might read otherwise than Python's.
ODD_CELLS = st.sampled_from(
    ["12\n", "\n1", "1\n", "2024-01-01\n", "1 ", "１２", "٣", "-", "", "a\nb", "0.5\n", "é"]
)
FIXED = [
    fast_path._INTEGER,
    fast_path._PLAIN_INTEGER,
    fast_path._DECIMAL,
    fast_path._DATE,
    fast_path._DATETIME,
]


def arrow_column(cells: list[str], cuts: list[int]) -> ArrowCells:
    """The cells as an Arrow column split into chunks at ``cuts``."""
    bounds = [0, *sorted(cut for cut in cuts if cut <= len(cells)), len(cells)]
    parts = [pa.array(cells[start:end], pa.string()) for start, end in itertools.pairwise(bounds)]
    return ArrowCells(pa.chunked_array(parts, pa.string()))


def outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except ValueError as exc:
        return type(exc)


def answers(cells: Any, allowed: list[frozenset[str]]) -> list[object]:
    tests: list[Callable[[str], object]] = [
        date.fromisoformat,
        datetime.fromisoformat,
        re.compile("[A-Z]{2}[0-9]").fullmatch,
        str.isdigit,
    ]
    return [
        len(cells),
        cells.has_empty(),
        cells.to_list(),
        cells.longest(),
        cells.lengths(),
        [cells.all_in(choices) for choices in allowed],
        [cells.all_match_fixed(pattern) for pattern in FIXED],
        [outcome(lambda test=test: cells.all_pass(test)) for test in tests],
    ]


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    kind=st.sampled_from(sorted(CELLS)),
    required=st.booleans(),
    cuts=st.lists(st.integers(0, 10), max_size=3),
)
def test_arrow_cells_answer_as_the_cell_list(
    data: st.DataObject, kind: str, required: bool, cuts: list[int]
) -> None:
    cells = data.draw(st.lists(st.one_of(CELLS[kind], CELLS[kind], ODD_CELLS), max_size=10))
    arrow = arrow_column(cells, cuts)
    listed = CellList(list(cells))
    spec = column_spec(kind)
    assert fast_path.sqlite_form(spec, arrow, required=required) == fast_path.sqlite_form(
        spec, list(cells), required=required
    ), cells
    allowed = [
        frozenset(BOOLEAN_WORDS),
        frozenset({"a", "b"}),
        frozenset({"a", ""}),
        frozenset(),
        frozenset(data.draw(st.lists(st.sampled_from(cells))) if cells else []),
    ]
    assert answers(arrow, allowed) == answers(listed, allowed), cells
    assert answers(arrow.present(), allowed) == answers(listed.present(), allowed), cells


def test_an_empty_arrow_column_answers_as_an_empty_list() -> None:
    for arrow in (arrow_column([], []), ArrowCells(pa.chunked_array([], pa.string()))):
        assert answers(arrow, [frozenset({"a"})]) == answers(CellList([]), [frozenset({"a"})])
        for kind in sorted(CELLS):
            spec = column_spec(kind)
            assert fast_path.sqlite_form(spec, arrow, required=True) == fast_path.sqlite_form(
                spec, [], required=True
            )
