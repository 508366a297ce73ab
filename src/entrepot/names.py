"""Checking names that become files, so that no name can leave its folder.

A name here is one path component chosen by a caller (a spool entry, a
remote file, an upload).  :func:`check_name` refuses anything that could
escape the folder it is joined to or that would be confusing to show:
empty names, ``.`` and ``..``, separators, NUL and other control or
formatting characters, names that start with a dot (hidden files are the
spool's own bookkeeping) and names longer than a file system allows.
"""

from __future__ import annotations

import unicodedata

from entrepot.errors import InvalidName

#: Longest name, in UTF-8 bytes, that common file systems accept.
MAX_NAME_BYTES = 255

# Categories refused anywhere in a name: controls, formatting (bidi overrides,
# zero-width characters), line/paragraph separators, surrogates, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_name(name: object, *, what: str = "name") -> str:
    """Return ``name`` unchanged if it is a safe single path component.

    Raise :class:`~entrepot.errors.InvalidName` with the reason otherwise.
    """
    if not isinstance(name, str):
        raise InvalidName(f"{what} must be a string, not {type(name).__name__}")
    if not name:
        raise InvalidName(f"{what} is empty")
    if name in {".", ".."}:
        raise InvalidName(f"{what} {name!r} refers to a folder")
    if "/" in name or "\\" in name:
        raise InvalidName(f"{what} {name!r} contains a path separator")
    if name.startswith("."):
        raise InvalidName(f"{what} {name!r} starts with a dot")
    # Printable strings hold none of the refused categories: skip the slow scan.
    for char in "" if name.isprintable() else name:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidName(f"{what} {name!r} contains {_described(char)}")
    if name != name.strip() or name.endswith("."):
        raise InvalidName(f"{what} {name!r} starts or ends with blank space or ends with a dot")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidName(f"{what} {shortened(name)} is longer than {MAX_NAME_BYTES} bytes")
    return name


def shortened(name: str, keep: int = 40) -> str:
    """``name`` quoted for a message, its start only when it is long."""
    return repr(name) if len(name) <= keep else f"{name[:keep]!r}…"


def _described(char: str) -> str:
    """What a refused character is, for a message."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # as Python decodes a file name's byte that is not UTF-8
        return f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8"
    return f"the control character U+{code:04X}"
