"""Receiving a CSV upload from a form: streamed to disk, bounded while it streams.

The request body (``multipart/form-data``) is parsed as it arrives: small
text fields are kept in memory (a few, each bounded), the one file part is
written to a temporary file in the data center's hidden state folder and
counted — the upload is refused the moment it passes the data center's
size limit, not after it was read whole (a ``Content-Length`` already over
the limit is refused before anything is read).  The session's CSRF token,
the form's first field, was checked before the body reached this code
(:class:`~entrepot.web.guard.CsrfCheck`).

The temporary file is then stored by
:meth:`~entrepot.datacenter.DataCenter.upload` — the same code path as
``entrepot dc upload``: the name normalised, the file refused with the
reason when it was already imported, is too large (decompressed, for
``.csv.gz``) or does not decode — and removed whatever happens, so a refused
upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from entrepot.datacenter import DataCenter, human_size
from entrepot.errors import UploadRejected
from entrepot.web.render import ascii_number

#: Bytes a request may hold besides the file (boundaries, headers, fields).
ENVELOPE = 64 * 1024
#: Text fields a form may send, and the bytes of each.
MAX_FIELDS = 8
MAX_FIELD_BYTES = 4096
#: The form field holding the file.
FILE_FIELD = "file"
_WORK = "web-uploads"


class TooLarge(UploadRejected):
    """The upload passed the size limit while it streamed."""


class BadForm(Exception):
    """The request is not a form the upload page sends (the reason says why)."""


@dataclass
class Received:
    """A file received from a form, in a temporary file, with the form's fields."""

    filename: str
    path: Path
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


class _Parts:
    """The parser's callbacks: fields into memory, the file's bytes into a list to write."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.pending: list[bytes] = []
        self._headers: dict[bytes, bytes] = {}
        self._field, self._text = b"", b""
        self._name = ""
        self._value = bytearray()
        self._is_file = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._field, self._text = {}, b"", b""
        self._name, self._value, self._is_file = "", bytearray(), False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._text += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._text.strip()
        self._field, self._text = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = _text(options.get(b"name", b""), "a field name")
        if b"filename" not in options:
            if len(self.fields) >= MAX_FIELDS:
                raise BadForm("the form has too many fields")
            return
        if self._name != FILE_FIELD or self.filename is not None:
            raise BadForm(f"the form must hold one file, in the field {FILE_FIELD!r}")
        self.filename = _text(options[b"filename"], "the file name")
        self._is_file = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            if len(self._value) + end - start > MAX_FIELD_BYTES:
                raise BadForm(f"the form field {self._name!r} is too long")
            self._value += data[start:end]
            return
        self.size += end - start
        if self.size > self.limit:
            raise TooLarge(
                f"{self.filename!r} is larger than the limit of {human_size(self.limit)}"
            )
        self.pending.append(data[start:end])

    def _end(self) -> None:
        if not self._is_file:
            self.fields[self._name] = _text(bytes(self._value), f"the field {self._name!r}")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRejected(f"{what} is not UTF-8 text") from None


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary of a ``Content-Type`` header; :class:`BadForm` if none."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadForm("send the file as multipart/form-data (the upload form does)")
    return boundary


def work_folder(center: DataCenter) -> Path:
    folder = center.tree.ensure_state() / _WORK
    folder.mkdir(exist_ok=True)
    return folder


async def receive(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    folder: Path,
    limit: int,
) -> Received:
    """Parse a form's body from ``chunks``, its file written under ``folder``.

    Raises :class:`~entrepot.errors.UploadRejected` (too large, a name that is
    not text) or :class:`BadForm` (not the upload form); the temporary file is
    removed then.  On success the caller owns
    it (and removes it: see :func:`store`).
    """
    boundary = boundary_of(content_type)
    declared = ascii_number(content_length)
    if declared is not None and declared > limit + ENVELOPE:
        raise TooLarge(f"the upload is larger than the limit of {human_size(limit)}")
    parts = _Parts(limit)
    path = folder / f"{uuid.uuid4().hex}.part"
    parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
    out: BinaryIO = await anyio.to_thread.run_sync(open, path, "xb")
    try:
        with out:
            async for chunk in chunks:
                try:
                    parser.write(chunk)
                except FormParserError as exc:
                    raise BadForm(f"the form's body cannot be read: {exc}") from None
                if parts.pending:
                    blocks, parts.pending = parts.pending, []
                    await anyio.to_thread.run_sync(out.writelines, blocks)
            parser.finalize()
        if parts.filename is None:
            raise BadForm(f"the form holds no file in the field {FILE_FIELD!r}")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(parts.filename, path, parts.size, parts.fields)


@dataclass(frozen=True)
class Stored:
    """An upload the data center took: its name there, its size and checksum."""

    name: str
    size: int
    checksum: str


def store(center: DataCenter, received: Received, *, user: str | None) -> Stored:
    """Store ``received`` through the data center's upload; its temporary file goes."""
    digest = hashlib.sha256()
    try:
        path = center.upload(received.path, received.filename, user=user, digest=digest)
    finally:
        received.path.unlink(missing_ok=True)
    return Stored(path.name, os.stat(path).st_size, f"sha256:{digest.hexdigest()}")


__all__ = [
    "ENVELOPE",
    "FILE_FIELD",
    "BadForm",
    "Received",
    "Stored",
    "TooLarge",
    "boundary_of",
    "receive",
    "store",
    "work_folder",
]
