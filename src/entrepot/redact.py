"""Text that is safe to show: secrets masked, control characters made visible.

Everything Entrepôt prints or logs — URLs, error messages, remote and local
names — passes through here first.  Three threats:

* **Secrets.**  A password can reach a message inside a URL that did not
  parse (an unencoded ``/`` or ``@`` in it, one slash after the scheme), so
  :func:`mask_secrets` does not parse: it masks the userinfo of anything
  URL-shaped, up to the *last* ``@`` of the word, and the value of every
  parameter whose name says it is a secret.  It errs on the side of masking.
* **Terminal and log injection.**  A remote file name may hold an escape
  sequence that rewrites the screen, or a newline that forges a log line.
  :func:`printable` turns every control character (and the bidirectional
  overrides that reorder text) into a visible escape.
* **Spreadsheet formulas.**  A name written into a CSV file that someone
  opens in a spreadsheet may run there as a formula (``=HYPERLINK(…)``).
  :func:`defuse_formula` puts an apostrophe in front of such a text, as a
  spreadsheet shows text typed that way (:func:`runs_as_formula` says which).

>>> mask_secrets("ftp://bob:SEC@RET@host/in failed")
'ftp://bob:***@host/in failed'
>>> mask_secrets("ftp://u:123/abcSECRET@host/in")
'ftp://u:***@host/in'
>>> mask_secrets("postgresql://u@h/db?sslmode=off&password=X")
'postgresql://u@h/db?sslmode=off&password=***'
>>> printable("in\\x1b[2Jvoice\\n.csv")
'in\\\\x1b[2Jvoice\\\\n.csv'
>>> defuse_formula("=HYPERLINK(A1)"), defuse_formula("-5"), defuse_formula("a=b")
("'=HYPERLINK(A1)", '-5', 'a=b')
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "FORMULA_MARK", "FORMULA_TRIGGERS", "MASK", "SECRET_MARKS", "defuse_formula",
    "is_utf8", "mask_secrets", "mask_url_text", "printable", "runs_as_formula", "storable_text",
    "url_has_secret",
]  # fmt: skip

#: What a secret is replaced with.
MASK = "***"

# Schemes people write without the slashes too ("ftp:user:pw@host").
_KNOWN_SCHEMES = (
    "ftp|ftps|sftp|ssh|s3|file|http|https|memory|"
    "postgres|postgresql|postgresql\\+\\w+|mysql|mysql\\+\\w+|sqlite|redis|amqp"
)
# scheme, then either slashes or a known scheme with none; then the word up to
# its last "@" (a password may hold "/" or "@"); the word stops at white space
# and quotes.
_USERINFO = (
    r"(?P<head>\b(?:[A-Za-z][A-Za-z0-9+.\-]*:/+|(?:" + _KNOWN_SCHEMES + r"):))"
    r"(?P<user>[^\s'\"<>:@/]*):(?P<password>[^\s'\"<>]*)@(?=[^\s'\"<>@]*(?:[\s'\"<>]|$))"
)
_SECRET_WORDS = "password|passwd|passphrase|pwd|secret|token|credential|api_?key|signature"  # noqa: S105
_SECRET_NAME = r"[\w.\-]*(?:" + _SECRET_WORDS + r")[\w.\-]*"
# name=value (query strings, -o options) and "name": "value" (JSON, reprs).
_ASSIGNED = r"(?P<name>\b" + _SECRET_NAME + r")(?P<sep>=)(?P<value>[^\s&'\",;}]+)"
_QUOTED = (
    r"(?P<name>(?P<q>['\"])" + _SECRET_NAME + r"(?P=q)\s*:\s*)(?P<value>(?P<vq>['\"]).*?(?P=vq))"
)
_REFERENCE_SUFFIXES = ("_env", "_file", "-env", "-file")

# Control characters, the line and paragraph separators, the bidirectional overrides and
# isolates, the byte order mark — and lone surrogates: a byte of a name that was not UTF-8
# (U+DC80–U+DCFF, as Python decodes file names), which no terminal or JSON reader takes.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _mask_userinfo(match: re.Match[str]) -> str:
    if not match["password"]:
        return match[0]
    return f"{match['head']}{match['user']}:{MASK}@"


def _mask_assigned(match: re.Match[str]) -> str:
    # password_env=NAME and password_file=PATH are references, not secrets.
    if match["name"].lower().endswith(_REFERENCE_SUFFIXES):
        return match[0]
    return f"{match['name']}{match['sep']}{MASK}"


def _mask_quoted(match: re.Match[str]) -> str:
    name = match["name"].rstrip(" :").strip("'\"")
    if name.lower().endswith(_REFERENCE_SUFFIXES):
        return match[0]
    return f"{match['name']}{match['vq']}{MASK}{match['vq']}"


@functools.cache
def _secret_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Compiled on first use: compiling them takes a good part of a short
    # command's start-up, and many commands never mask anything.
    flags = re.IGNORECASE
    return re.compile(_USERINFO, flags), re.compile(_ASSIGNED, flags), re.compile(_QUOTED, flags)


#: A text holds none of these characters: it has no secret to mask (``a.isdisjoint(text)``
#: tells, in one call: a caller on a hot path skips :func:`mask_secrets` with it).
SECRET_MARKS = frozenset(":=")


def mask_secrets(text: str) -> str:
    """``text`` with every password-like part replaced by ``***``."""
    if SECRET_MARKS.isdisjoint(text):
        return text
    userinfo, assigned, quoted = _secret_patterns()
    # Each pattern needs its own character ("@", "=", a quote): without it, it is not
    # tried — on a word of 40 characters it would cost tens of microseconds for nothing
    # (an S3 key, an MD5 checksum, every file shipped).
    if "@" in text:
        text = userinfo.sub(_mask_userinfo, text)
    if "=" in text:
        text = assigned.sub(_mask_assigned, text)
    if "'" in text or '"' in text:
        text = quoted.sub(_mask_quoted, text)
    return text


# A URL's scheme and the slashes after it (``ftp://``, ``sftp:/``, ``postgresql+psycopg:``).
_URL_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/*")


def mask_url_text(text: str) -> str:
    """``text``, one URL as it was given (a setting, an argument — not a sentence), with
    the password of its userinfo masked however it is written: a space, a quote, an
    ``@`` or a ``/`` in it does not end it.  The userinfo runs from the scheme to the
    last ``@``; its password from its first ``:``.  Secret parameters are masked as
    :func:`mask_secrets` masks them.

    >>> mask_url_text("ftp://u:SEC RET@host:99999/x")
    'ftp://u:***@host:99999/x'
    >>> mask_url_text("ftp://bob@corp.com:secret@host/in")
    'ftp://bob@corp.com:***@host/in'
    """
    head = _URL_HEAD.match(text)
    if head is not None and "@" in text:
        start = head.end()
        userinfo, _, rest = text[start:].rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon and password:
            text = f"{text[:start]}{user}:{MASK}@{rest}"
    return mask_secrets(text)


def url_has_secret(text: str) -> bool:
    """True when ``text``, one URL as given, carries a password (in its userinfo, however
    it is written, or a secret parameter): :func:`mask_url_text` would mask something."""
    return mask_url_text(text) != text


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # the byte a file name held that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters as visible escapes (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape, text)


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (stored, sent in a command): not one that
    holds lone surrogates — the bytes of a file name that are not UTF-8, as Python
    reads them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """``text`` as a database can store it: UTF-8, its lone surrogates (the bytes of a
    file name that are not UTF-8, as Python reads them) written as ``\\xNN``, as
    :func:`printable` shows them; any other text unchanged."""
    if is_utf8(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name's byte makes
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


#: What a spreadsheet runs as a formula when a text begins with it (after blanks): the
#: four signs and their full-width forms.
FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Put in front of a text a spreadsheet would run: it shows the text as typed.
FORMULA_MARK = "'"
# A text beginning with one of these is taken as a formula's start whatever follows.
_FORMULA_ALWAYS = ("\t", "\r", "\n", "\0")
_BLANKS = re.compile(r"[\s\0]*")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula: it starts with a tab, a line
    break or NUL, or its first character after any blanks is one of
    :data:`FORMULA_TRIGGERS` — plain numbers such as ``-5`` or ``+1.5`` aside."""
    if not text:
        return False
    if text.startswith(_FORMULA_ALWAYS):
        return True
    start = _BLANKS.match(text).end()  # type: ignore[union-attr]  # it matches "" at least
    return text[start : start + 1] in FORMULA_TRIGGERS and not _NUMBER.fullmatch(text)


def defuse_formula(value: str) -> str:
    """``value`` as a CSV file meant for people writes it: :data:`FORMULA_MARK` in front
    of a text that :func:`runs_as_formula` (or of one already marked so, which a
    reader would otherwise take for the mark)."""
    return FORMULA_MARK + value if runs_as_formula(value.lstrip(FORMULA_MARK)) else value
