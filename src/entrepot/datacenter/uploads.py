"""Accepting uploaded CSV files into the data center root.

An upload gets a predictable name (blanks become underscores, the
uploader's name is appended, the stem is shortened to a bound, only
``.csv`` and ``.csv.gz`` are allowed) and is refused, with the reason, when
that name was already imported (it sits in ``finished/`` or
``unfinished/``), when it is too large, or when its text cannot be decoded.
The accepted bytes are written durably and never changed afterwards.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import re
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from entrepot.datacenter.encodings import check_encoding, decode_problem
from entrepot.datacenter.storage import StorageTree
from entrepot.durable import NotRegularFile, fsync_dir, open_regular, rename_noreplace
from entrepot.errors import InvalidName, UploadRejected
from entrepot.logs import log_event
from entrepot.names import check_name
from entrepot.spool.writing import Digest

logger = logging.getLogger(__name__)

_EXTENSIONS = (".csv.gz", ".csv")
_BLANKS = re.compile(r"\s+")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadPolicy:
    """What the data center accepts.

    ``encoding`` is the text encoding uploads must decode with; the default
    ``utf-8-sig`` takes UTF-8 with or without a byte order mark.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_stem: int = 64
    encoding: str = "utf-8-sig"

    def __post_init__(self) -> None:
        check_encoding(self.encoding)


def split_name(name: str) -> tuple[str, str]:
    """``'a.b.CSV.gz'`` → ``('a.b', '.csv.gz')``; raise when not a CSV name."""
    lower = name.lower()
    for ext in _EXTENSIONS:
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], ext
    raise UploadRejected(f"{name!r} is not a CSV file: only .csv and .csv.gz are accepted")


def normalise_name(name: str, *, user: str | None = None, max_stem: int = 64) -> str:
    """The name an upload is stored under.

    >>> normalise_name("My Students.CSV", user="alice")
    'My_Students_alice.csv'
    """
    try:
        # Over-long names are shortened below, not refused: check the part kept.
        check_name(name if len(name) <= 200 else name[:150] + name[-10:], what="upload name")
        if user is not None:
            check_name(user, what="user name")
    except InvalidName as exc:
        raise UploadRejected(str(exc)) from exc
    stem, ext = split_name(name)
    stem = _BLANKS.sub("_", stem.strip())
    suffix = f"_{_BLANKS.sub('_', user)}" if user else ""
    stem = stem[: max(1, max_stem - len(suffix))] + suffix
    final = stem + ext
    # The shortened stem must still be a harmless name (no trailing dot, …).
    try:
        return check_name(final, what="upload name")
    except InvalidName as exc:
        raise UploadRejected(str(exc)) from exc


def check_decodable(
    stream: BinaryIO, *, name: str, encoding: str, gzipped: bool, max_bytes: int | None = None
) -> None:
    """Read the whole upload once and refuse it when it does not decode.

    ``max_bytes`` bounds the text once decompressed: a small ``.csv.gz`` may
    expand to gigabytes.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    source: BinaryIO = gzip.GzipFile(fileobj=stream) if gzipped else stream  # type: ignore[assignment]
    offset = 0
    try:
        while block := source.read(_CHUNK):
            if max_bytes is not None and offset + len(block) > max_bytes:
                raise UploadRejected(
                    f"{name!r} is larger than the limit of {max_bytes} bytes once decompressed"
                )
            try:
                decoder.decode(block)
            except UnicodeError as exc:
                where = (
                    f"byte {offset + exc.start}: {exc.reason}"
                    if isinstance(exc, UnicodeDecodeError)
                    else decode_problem(exc)
                )
                raise UploadRejected(
                    f"{name!r} is not valid {encoding} text ({where}); "
                    "upload it again with its encoding named"
                ) from exc
            offset += len(block)
        decoder.decode(b"", final=True)
    except (OSError, EOFError, zlib.error) as exc:
        raise UploadRejected(f"{name!r} is not a readable gzip file: {exc}") from exc
    except UnicodeError as exc:
        raise UploadRejected(f"{name!r} ends in the middle of a character") from exc


def store_upload(
    tree: StorageTree,
    source: str | os.PathLike[str] | BinaryIO,
    name: str,
    *,
    user: str | None = None,
    policy: UploadPolicy | None = None,
    digest: Digest | None = None,
) -> Path:
    """Store an uploaded CSV file in the data center root and return its path.

    ``source`` is a path or a binary file object; ``name`` is the name the
    uploader gave it.  Raises :class:`~entrepot.errors.UploadRejected` with
    the reason when the file is refused.  ``digest`` (a :mod:`hashlib`
    object) is fed the bytes as they are copied.
    """
    policy = policy or UploadPolicy()
    final_name = normalise_name(name, user=user, max_stem=policy.max_stem)
    for folder in (tree.finished, tree.unfinished):
        if (folder / final_name).exists():
            raise UploadRejected(
                f"{final_name!r} was already imported (it is in {folder.name}/); "
                "rename the file to import it again"
            )
    final = tree.root / final_name
    if final.exists():
        raise UploadRejected(f"{final_name!r} is already waiting in the data center")
    _check_no_twin(tree, final_name)
    tmp = tree.root / f".upload-{uuid.uuid4().hex}.tmp"
    try:
        size = _copy_bounded(
            source, tmp, name=final_name, max_bytes=policy.max_bytes, digest=digest
        )
        with open(tmp, "rb") as handle:
            check_decodable(
                handle,
                name=final_name,
                encoding=policy.encoding,
                gzipped=final_name.lower().endswith(".gz"),
                max_bytes=policy.max_bytes,
            )
        try:
            rename_noreplace(tmp, final)
        except FileExistsError as exc:
            raise UploadRejected(f"{final_name!r} is already waiting in the data center") from exc
        fsync_dir(tree.root)
    finally:
        tmp.unlink(missing_ok=True)
    log_event(logger, "datacenter.uploaded", name=final_name, size=size, user=user or "")
    return final


def _check_no_twin(tree: StorageTree, name: str) -> None:
    """Refuse ``x.csv.gz`` beside ``x.csv`` (and the reverse): they share their result files."""
    stem, ext = split_name(name)
    twin = stem + (".csv" if ext == ".csv.gz" else ".csv.gz")
    for folder in (tree.root, tree.unfinished, tree.finished):
        if (folder / twin).exists():
            where = "" if folder == tree.root else f" (in {folder.name}/)"
            raise UploadRejected(
                f"{name!r} would share its pending and finished rows with {twin!r}{where}:"
                " rename the file to upload it"
            )


def open_source(path: str | os.PathLike[str]) -> BinaryIO:
    """The file to upload at ``path``, opened for reading.

    A FIFO would block the upload until something writes into it, and a
    device or a folder is no CSV file: the path is opened without waiting,
    then what was opened is checked to be a regular file, so a file swapped
    for a FIFO after any earlier look is refused as well.
    """
    try:
        fd = open_regular(path)
    except NotRegularFile:
        what = "a folder" if os.path.isdir(path) else "not a regular file"
        raise UploadRejected(f"{os.fspath(path)!r} is {what}: only files are uploaded") from None
    return os.fdopen(fd, "rb")


def _copy_bounded(
    source: str | os.PathLike[str] | BinaryIO,
    tmp: Path,
    *,
    name: str,
    max_bytes: int,
    digest: Digest | None = None,
) -> int:
    if isinstance(source, str | os.PathLike):
        with open_source(source) as handle:
            return _copy_bounded(handle, tmp, name=name, max_bytes=max_bytes, digest=digest)
    size = 0
    with open(tmp, "xb") as out:
        while block := source.read(_CHUNK):
            size += len(block)
            if size > max_bytes:
                raise UploadRejected(f"{name!r} is larger than the limit of {max_bytes} bytes")
            if digest is not None:
                digest.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise UploadRejected(f"{name!r} is empty")
    return size


__all__ = [
    "UploadPolicy",
    "check_decodable",
    "normalise_name",
    "open_source",
    "split_name",
    "store_upload",
]
