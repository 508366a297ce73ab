"""Reading and writing the data center's CSV files.

Sources are read in the encoding they were uploaded with (UTF-8 with or
without BOM unless told otherwise), gzip-compressed or not.  Every file the
data center writes itself (finished rows, pending rows, backups, exports)
is UTF-8 with ``\\r\\n`` line ends, as the CSV standard asks.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import os
import shutil
from pathlib import Path
from typing import IO, BinaryIO, cast

from entrepot.durable import create_fresh, fsync_dir, replacing, replacing_text
from entrepot.spool.areas import descriptor_path, open_entry

#: A column headed like this is carried along but never imported.
IGNORE_COLUMN = "--IGNORE--"
#: The last column of a pending file: why each row was rejected.
ERRORS_COLUMN = "--ERRORS--"
#: Encoding of every CSV file the data center writes.
OUTPUT_ENCODING = "utf-8"

#: The longest cell read back from a file the data center wrote: its cells
#: passed an import's limits already, whatever they were.
OWN_FILES_FIELD_LIMIT = 2**31 - 1


def field_limit(max_field: int) -> None:
    """Let the ``csv`` module read cells of up to ``max_field`` characters.

    The module keeps one limit per process: every reader sets it for itself
    before it reads (imports of sources to their own limit, see
    :mod:`entrepot.datacenter.imports.limits`).
    """
    csv.field_size_limit(max_field)


def open_file(path: Path, *, buffering: int = -1) -> BinaryIO:
    """A file of the data center, for reading its bytes as they are on disk — never
    through a symbolic link: a link (to a file anywhere) is refused with
    :class:`~entrepot.errors.UnsafeEntry`, also one swapped in for the file between
    two reads.  ``buffering``: as :func:`open`'s."""
    return open_entry(path, what="data center file", buffering=buffering)


def open_bytes(path: Path, *, buffering: int = -1) -> IO[bytes]:
    """:func:`open_file`, decompressed for a ``.gz`` file."""
    checked = open_file(path, buffering=buffering)
    if not path.name.lower().endswith(".gz"):
        return checked
    with checked:
        # The file checked, by its descriptor: whatever its name has become since.
        return cast(IO[bytes], gzip.open(descriptor_path(checked), "rb"))


def open_text(path: Path, encoding: str = "utf-8-sig") -> IO[str]:
    """Open a CSV file for reading (:func:`open_bytes`), decompressing ``.gz`` files."""
    return io.TextIOWrapper(open_bytes(path), encoding=encoding, newline="")


def copy_from(src: IO[bytes], start: int, out: IO[bytes]) -> None:
    """Copy ``src`` from byte ``start`` on into ``out``: in the kernel where it can."""
    offset = start
    try:
        while copied := os.copy_file_range(src.fileno(), out.fileno(), 1 << 24, offset_src=offset):
            offset += copied
        return
    except (AttributeError, OSError):
        # No such call here, or not between these file systems: copy through
        # memory from where the kernel stopped.
        pass
    src.seek(offset)
    out.seek(offset - start)
    shutil.copyfileobj(src, out, 1 << 20)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open_file(path) as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def atomic_writer(final: Path) -> contextlib.AbstractContextManager[IO[str]]:
    """Write a text file under a temporary name; it appears complete or not at all."""
    return replacing_text(final, OUTPUT_ENCODING)


#: Write a file under a temporary name, synced; it appears complete or not at all.
atomic_writer_binary = replacing


def peek(path: Path) -> tuple[list[str], bool]:
    """The header of a CSV file and whether at least one data row follows."""
    field_limit(OWN_FILES_FIELD_LIMIT)
    with _own_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        return header, next(reader, None) is not None


def build_merged(dest: Path, src: Path) -> Path:
    """Write ``dest`` followed by the rows of ``src`` to a temporary file; return it.

    The merged header lists the columns that carry rows: ``dest``'s when it
    has rows, then those of ``src`` that are new.  Files without rows add
    no columns, so merging two header-only files leaves an empty header.
    The caller renames the result over ``dest`` (see :func:`publish_merged`).
    """
    dest_header, dest_rows = peek(dest)
    src_header, src_rows = peek(src)
    columns: list[str] = list(dest_header) if dest_rows else []
    if src_rows:
        columns += [name for name in src_header if name not in columns]
    tmp = dest.with_name(f".{dest.name}.merging")
    fresh = create_fresh(tmp)
    with open(fresh, "w", encoding=OUTPUT_ENCODING, newline="", errors="surrogateescape") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for path, header, has_rows in ((dest, dest_header, dest_rows), (src, src_header, src_rows)):
            if not has_rows:
                continue
            positions = [header.index(name) if name in header else -1 for name in columns]
            with _own_text(path) as handle:
                reader = csv.reader(handle)
                next(reader)
                if header == columns:
                    writer.writerows(reader)
                    continue
                for row in reader:
                    writer.writerow([row[pos] if 0 <= pos < len(row) else "" for pos in positions])
        out.flush()
        os.fsync(out.fileno())
    return tmp


def _own_text(path: Path) -> IO[str]:
    """A CSV file the data center wrote, as text (:func:`open_file`: never a link)."""
    return io.TextIOWrapper(
        open_file(path), encoding="utf-8-sig", newline="", errors="surrogateescape"
    )


def publish_merged(tmp: Path, dest: Path) -> None:
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
