"""Decompression bombs and giant cells against the data center (issue 10, item 14).

* ``dc upload`` measures a ``.csv.gz`` file by its decompressed size;
* a 300 KB ``.csv.gz`` holding one 300 MB cell — on one line, or spread over
  short lines inside quotes — fails with exit 7 and a clear message, in
  little memory, and not as a ``MemoryError`` left to repeat in the backlog;
* the decompressed size, the line length and the cell length are limits
  with defaults that can be changed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger
from tests.hostile._dc import entrepot, make_root

#: Far below the gigabytes these files took before; a Python with Arrow and
#: SQLAlchemy loaded takes about 100 MB.
MEMORY_BOUND = 600 * 1024 * 1024


def gzipped(path: Path, *parts: bytes, repeat: tuple[bytes, int] | None = None) -> None:
    """Write ``parts`` compressed, with ``repeat = (block, times)`` after the first."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(parts[0])
        if repeat is not None:
            block, times = repeat
            for _ in range(times):
                out.write(block)
        for part in parts[1:]:
            out.write(part)


def only_job(tmp_path: Path) -> tuple[JobState, str | None]:
    with Ledger.open(tmp_path / "state") as ledger:
        (job,) = ledger.jobs()
        (run,) = ledger.runs(job.id)
        return job.state, run.error_type


def test_upload_measures_a_compressed_file_by_its_decompressed_size(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    bomb = tmp_path / "bomb.csv.gz"
    gzipped(bomb, b"student_id,name\n", repeat=(b"S1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" * 1000, 300))
    assert bomb.stat().st_size < 100_000

    ran = entrepot(tmp_path, "dc", "upload", bomb, "--root", root, "--max-bytes", 1 << 20)

    assert ran.code == 7, ran.text
    assert "larger than the limit" in ran.err and "decompressed" in ran.err
    assert not list(root.glob("*.csv.gz")) and not list(root.glob(".*tmp"))


def test_a_cell_of_300_megabytes_on_one_line_fails_at_once_in_little_memory(
    tmp_path: Path,
) -> None:
    root = make_root(tmp_path)
    gzipped(
        root / "big.csv.gz", b"student_id,name\nS1,", b"\nS2,ok\n", repeat=(b"x" * (1 << 20), 300)
    )
    assert (root / "big.csv.gz").stat().st_size < 400_000

    ran = entrepot(
        tmp_path, "dc", "import", "big.csv.gz", "--root", root, "-t", "students", measured=True
    )

    assert ran.code == 7, ran.text[-3000:]
    assert "a line is longer than the limit of 16 MiB (max_record)" in ran.err
    assert "MemoryError" not in ran.text and "Traceback" not in ran.text
    assert ran.peak_rss < MEMORY_BOUND
    # A permanent failure of the file, waiting for an operator — never retried as transient.
    assert only_job(tmp_path) == (JobState.BACKLOG, "ImportFailed")
    assert (root / "big.csv.gz").exists()


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_a_cell_of_300_megabytes_over_short_lines_is_bounded_too(
    tmp_path: Path, reader: str
) -> None:
    root = make_root(tmp_path)
    gzipped(
        root / "lines.csv.gz",
        b'student_id,name\nS1,"',
        b'"\nS2,ok\n',
        repeat=(b"x" * 31 + b"\n", 300 * (1 << 15)),
    )

    ran = entrepot(
        tmp_path, "dc", "import", "lines.csv.gz", "--root", root, "-t", "students",
        "--reader", reader, measured=True,
    )  # fmt: skip

    assert ran.code == 7, ran.text[-3000:]
    assert "a cell is longer than the limit of 1,048,576 characters (max_field)" in ran.err
    assert ran.peak_rss < MEMORY_BOUND


def test_the_decompressed_size_of_an_import_is_limited(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    gzipped(
        root / "many.csv.gz", b"student_id,name\n", repeat=(b"S1,aaaaaaaaaaaaaaaaaaaaa\n", 100_000)
    )

    ran = entrepot(
        tmp_path, "dc", "import", "many.csv.gz", "--root", root, "-t", "students",
        "--max-expanded", "1MiB",
    )  # fmt: skip

    assert ran.code == 7, ran.text
    assert "decompressed text is larger than the limit of 1 MiB (max_expanded)" in ran.err
    assert "processed" not in ran.out


def test_a_long_cell_is_refused_by_default_and_imported_once_the_limit_is_raised(
    tmp_path: Path,
) -> None:
    root = make_root(tmp_path)
    cell = "y" * (2 << 20)
    (root / "long.csv").write_text(f"student_id,name\nS1,{cell}\nS2,short\n")

    refused = entrepot(tmp_path, "dc", "import", "long.csv", "--root", root, "-t", "students")
    assert refused.code == 7, refused.text
    assert "max_field" in refused.err
    # Nothing was imported: the import is forgotten and the file may be fixed.
    (root / "long.csv").write_text("student_id,name\nS1,fixed\nS2,short\n")
    fixed = entrepot(tmp_path, "dc", "import", "long.csv", "--root", root, "-t", "students")
    assert fixed.code == 0, fixed.text

    (root / "long2.csv").write_text(f"student_id,name\nS3,{cell}\n")
    raised = entrepot(
        tmp_path, "dc", "import", "long2.csv", "--root", root, "-t", "students",
        "--max-field", "4MiB",
    )  # fmt: skip
    assert raised.code == 0, raised.text


def test_a_limit_that_is_not_a_size_is_a_usage_error(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    ran = entrepot(
        tmp_path, "dc", "import", "x.csv", "--root", root, "-t", "students", "--max-field", "10iB"
    )
    assert ran.code == 2 and "not a size" in ran.err


@pytest.mark.parametrize("name", ["chunk_size", "commit_rows", "max_field", "max_record"])
def test_a_limit_beyond_what_a_read_can_hold_is_refused_before_the_import(name: str) -> None:
    import sys

    from entrepot.datacenter import ImportOptions
    from entrepot.errors import ConfigError

    assert getattr(ImportOptions(**{name: sys.maxsize}), name) == sys.maxsize
    with pytest.raises(ConfigError, match=f"{name} must be at most 9,223,372,036,854,775,807"):
        ImportOptions(**{name: sys.maxsize + 1})


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_both_readers_hold_cells_to_the_same_limit(tmp_path: Path, reader: str) -> None:
    from entrepot.datacenter import DataCenter, parse_schema
    from entrepot.errors import ImportFailed
    from tests.hostile._dc import SCHEMA

    center = DataCenter(tmp_path / "dc", schema=parse_schema(SCHEMA), create=True)
    try:
        # 32 characters pass, 33 do not; "é" is two bytes but one character.
        (center.root / "ok.csv").write_text(f"student_id,name\nS1,{'é' * 32}\n", encoding="utf-8")
        assert center.import_file("ok.csv", "students", reader=reader, max_field=32).all_ok
        (center.root / "no.csv").write_text(f"student_id,name\nS2,{'x' * 33}\n", encoding="utf-8")
        with pytest.raises(ImportFailed, match="limit of 32 characters"):
            center.import_file("no.csv", "students", reader=reader, max_field=32)
    finally:
        center.close()
