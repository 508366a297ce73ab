"""Lines an FTP server sends, read within bounds: replies and listings.

A peer may send without end — a ``220-`` greeting that never closes, a
``FEAT`` of a million lines, an ``MLSD`` that streams entries for ever —
and each byte of it renews the call's deadline, since the peer is sending.
So what is kept of them is bounded, and going past a bound is
:class:`OverLimit` (a ``ConnectionFailed``, exit 5, that names the limit):

* a reply on the control connection: :data:`MAX_REPLY_BYTES` in all (1 MiB),
  each line at most ``ftplib``'s 8192 characters.  :class:`BoundedFTP`
  reads replies that way; ``ftplib``'s own reader keeps every line of a
  multi-line reply, however many;
* a listing on the data connection: :data:`MAX_LISTING_ENTRIES` lines
  (1,000,000), :data:`MAX_LISTING_BYTES` (256 MiB) and
  :data:`MAX_LISTING_LINE` bytes waiting for their line's end (64 KiB: an
  entry is its facts and a name) — far beyond any folder a delivery reads, and memory stays
  within a few hundred MiB.

Listing lines end at ``CRLF``, or a bare ``LF`` for servers that send it —
nowhere else: a file name may hold a ``\\r``, a U+2028 or a U+0085, which
:meth:`str.splitlines` would take for line ends, cutting the name and
letting the rest of it pass for an entry of its own
(``x\\rtype=file;size=999; ghost.csv``).
"""

from __future__ import annotations

import ftplib
from collections.abc import Callable

from entrepot.targets.transfer import Progress

__all__ = [
    "MAX_LISTING_BYTES", "MAX_LISTING_ENTRIES", "MAX_LISTING_LINE", "MAX_REPLY_BYTES",
    "BoundedFTP", "OverLimit", "read_listing",
]  # fmt: skip

#: Characters one reply may hold, all its lines together.
MAX_REPLY_BYTES = 1024 * 1024
#: Lines one listing may hold.
MAX_LISTING_ENTRIES = 1_000_000
#: Bytes one listing may hold.
MAX_LISTING_BYTES = 256 * 1024 * 1024
#: Bytes of a listing that may wait for their line's end.
MAX_LISTING_LINE = 64 * 1024


class OverLimit(Exception):
    """The server sent more than a reply or a listing may hold."""


class BoundedFTP(ftplib.FTP):
    """:class:`ftplib.FTP` reading replies within :data:`MAX_REPLY_BYTES`."""

    def getline(self) -> str:
        assert self.file is not None
        line = self.file.readline(self.maxline + 1)
        if len(line) > self.maxline:
            raise OverLimit(f"a reply line over {self.maxline} characters: is it an FTP server?")
        if not line:
            raise EOFError
        if line.endswith("\r\n"):
            return line[:-2]
        return line[:-1] if line[-1] in "\r\n" else line

    def getmultiline(self) -> str:
        lines = [self.getline()]
        first = lines[0]
        if first[3:4] != "-":
            return first
        size = len(first)
        while True:
            line = self.getline()
            size += len(line) + 1
            if size > MAX_REPLY_BYTES:
                raise OverLimit(
                    f"a reply over {MAX_REPLY_BYTES >> 20} MiB ({len(lines)} lines and "
                    "more): is it an FTP server?"
                )
            lines.append(line)
            if line[:3] == first[:3] and line[3:4] != "-":
                return "\n".join(lines)


def read_listing(read: Callable[[int], bytes], progress: Progress, blocksize: int) -> list[str]:
    """The lines of a listing read from ``read`` until its end, each block told to ``progress``.

    Bytes that are not UTF-8 stay, escaped (``surrogateescape``): such a
    name is listed, never fetched.
    """
    lines: list[str] = []
    pending = bytearray()
    received = 0
    while chunk := read(blocksize):
        received += len(chunk)
        if received > MAX_LISTING_BYTES:
            raise OverLimit(f"a listing over {MAX_LISTING_BYTES >> 20} MiB")
        progress(len(chunk))
        start = len(pending)  # only the new bytes can hold a new line end
        pending += chunk
        end = pending.rfind(b"\n", start)
        if end >= 0:
            lines += (_text(raw) for raw in pending[:end].split(b"\n"))
            del pending[: end + 1]
        if len(lines) > MAX_LISTING_ENTRIES:
            raise OverLimit(f"a listing over {MAX_LISTING_ENTRIES:,} entries")
        if len(pending) > MAX_LISTING_LINE:
            raise OverLimit(f"a listing line over {MAX_LISTING_LINE >> 10} KiB")
    if pending:
        lines.append(_text(pending))
    return lines


def _text(raw: bytearray) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", "surrogateescape")
