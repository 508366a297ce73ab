"""The text encodings the data center reads files in.

Python's codec registry also holds codecs that are no text encodings —
``rot13``, ``base64``, ``hex``, ``zip`` turn bytes into bytes or text into
text — and ``undefined``, which refuses everything.  Naming one of those is
a mistake of the command line or the configuration, told before anything
runs; text that does not decode in a proper encoding is a problem of the
file (:func:`decode_problem` words it).
"""

from __future__ import annotations

import codecs

from entrepot.errors import ConfigError


def check_encoding(encoding: str) -> str:
    """``encoding`` when it names a text encoding that can decode; :class:`ConfigError` if not."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise ConfigError(f"unknown encoding {encoding!r}") from None
    # The registry's own mark: False for the bytes-to-bytes and text-to-text codecs.
    if not getattr(info, "_is_text_encoding", True):
        raise ConfigError(f"{encoding!r} is not a text encoding: name one such as utf-8 or latin-1")
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(b"", final=True)
    except (UnicodeError, TypeError, ValueError):
        raise ConfigError(f"the encoding {encoding!r} cannot decode text") from None
    return encoding


def decode_problem(exc: UnicodeError) -> str:
    """What went wrong decoding, in a few words (with the byte when it is known)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"byte {exc.start}: {exc.reason}"
    return str(exc) or type(exc).__name__
