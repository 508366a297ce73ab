"""The finished and pending row files are what csv.writer makes of the source's rows.

``split_source`` writes lines without quotes as they are (their cells need
no quoting) and has the ``csv`` module read and write every other record.
The reference here does it all with the ``csv`` module, record by record.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrepot.datacenter.csvfiles import ERRORS_COLUMN
from entrepot.datacenter.formulas import row_forms
from entrepot.datacenter.imports.row_files import split_source
from tests.unit.test_dc_arrow_reader import csv_files


def reference(data: bytes, errors: dict[int, str]) -> tuple[bytes, bytes | None]:
    """The finished and pending files as csv.reader and csv.writer alone make them.

    Pending rows get the apostrophe before cells a spreadsheet would run.
    """
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader, [])
    drop = header.index(ERRORS_COLUMN) if ERRORS_COLUMN in header else None

    def without(row: list[str]) -> list[str]:
        if drop is None or drop >= len(row):
            return row
        return row[:drop] + row[drop + 1 :]

    finished, pending = io.StringIO(), io.StringIO()
    finished_out, pending_out = csv.writer(finished), csv.writer(pending)
    finished_out.writerow(without(header))
    pending_out.writerow([*without(header), ERRORS_COLUMN])
    for index, row in enumerate(reader):
        if index in errors:
            pending_out.writerow([*row_forms(without(row)), errors[index]])
        else:
            finished_out.writerow(without(row))
    return (
        finished.getvalue().encode("utf-8"),
        pending.getvalue().encode("utf-8") if errors else None,
    )


def split(data: bytes, errors: dict[int, str], name: str = "t.csv") -> tuple[bytes, bytes | None]:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        source = base / name
        source.write_bytes(data)
        finished, pending = base / "finished.csv", base / "pending.csv"
        split_source(source, "utf-8-sig", errors, finished, pending)
        return finished.read_bytes(), pending.read_bytes() if pending.exists() else None


@st.composite
def files_and_errors(draw: Any) -> tuple[bytes, dict[int, str]]:
    data, _, _ = draw(csv_files())
    rows = len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))) - 1
    failed = draw(st.sets(st.integers(0, max(rows - 1, 0)), max_size=rows)) if rows > 0 else set()
    # At least one failed row, so the files are written record by record.
    failed = failed or ({0} if rows > 0 else set())
    problems = st.sampled_from(["x: bad", 'y: "q", z', "multi\nline"])
    errors = {index: draw(problems) for index in failed}
    return data, errors


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=files_and_errors())
def test_the_row_files_are_what_the_csv_module_makes(case: tuple[bytes, dict[int, str]]) -> None:
    data, errors = case
    if not errors:
        return  # a file without rows: copied as it is (see below)
    assert split(data, errors) == reference(data, errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=files_and_errors(), spot=st.integers(0, 3))
def test_a_pending_files_errors_column_is_dropped(
    case: tuple[bytes, dict[int, str]], spot: int
) -> None:
    data, errors = case
    if not errors:
        return
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not rows[0]:
        return
    # Put an --ERRORS-- column into the file, as a pending file has one.
    place = min(spot, len(rows[0]))
    shaped = [[*row[:place], "old problem", *row[place:]] for row in rows]
    shaped[0][place] = ERRORS_COLUMN
    buffer = io.StringIO()
    csv.writer(buffer).writerows(shaped)
    pending_like = buffer.getvalue().encode("utf-8")
    assert split(pending_like, errors) == reference(pending_like, errors)


def test_no_failed_row_of_a_utf8_file_copies_its_bytes() -> None:
    data = b"\xef\xbb\xbfa,b\n1,2\r\n3,4"
    assert split(data, {}) == (b"a,b\n1,2\r\n3,4", None)


def test_quoted_records_over_several_lines_keep_their_place() -> None:
    data = b'a,b\n1,"x\ny"\n2,plain\n"3",q\n4,"r""s"\n5,t\n'
    finished, pending = split(data, {2: "a: bad"})
    assert finished == b'a,b\r\n1,"x\ny"\r\n2,plain\r\n4,"r""s"\r\n5,t\r\n'
    assert pending == b"a,b,--ERRORS--\r\n3,q,a: bad\r\n"


def test_a_large_file_is_copied_whole_by_the_kernel_or_through_memory(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # Over the 16 MiB the kernel is asked for at a time, with a BOM to skip.
    rows = b"".join(b"%d,row %d\r\n" % (number, number) for number in range(1_500_000))
    data = b"\xef\xbb\xbfid,name\r\n" + rows
    assert len(data) > 1 << 24
    source, finished = tmp_path / "big.csv", tmp_path / "finished.csv"
    source.write_bytes(data)
    split_source(source, "utf-8-sig", {}, finished, tmp_path / "pending.csv")
    assert finished.read_bytes() == data[3:]

    calls = []
    real = os.copy_file_range

    def refused_after_a_while(*args: Any, **kwargs: Any) -> int:
        # The kernel copies one block, then refuses (another file system, say).
        calls.append(args)
        if len(calls) > 1:
            raise OSError(errno.EXDEV, "cross-device")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "copy_file_range", refused_after_a_while)
    split_source(source, "utf-8-sig", {}, finished, tmp_path / "pending.csv")
    assert finished.read_bytes() == data[3:] and len(calls) == 2
