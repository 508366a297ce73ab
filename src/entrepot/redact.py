"""Text that is safe to show: secrets masked, control characters made visible.

Everything Entrepôt prints or logs — URLs, error messages, remote and local
names — passes through here first.  Two threats:

* **Secrets.**  A password can reach a message inside a URL that did not
  parse (an unencoded ``/`` or ``@`` in it, one slash after the scheme), so
  :func:`mask_secrets` does not parse: it masks the userinfo of anything
  URL-shaped, up to the *last* ``@`` of the word, and the value of every
  parameter whose name says it is a secret.  It errs on the side of masking.
* **Terminal and log injection.**  A remote file name may hold an escape
  sequence that rewrites the screen, or a newline that forges a log line.
  :func:`printable` turns every control character (and the bidirectional
  overrides that reorder text) into a visible escape.

>>> mask_secrets("ftp://bob:SEC@RET@host/in failed")
'ftp://bob:***@host/in failed'
>>> mask_secrets("ftp://u:123/abcSECRET@host/in")
'ftp://u:***@host/in'
>>> mask_secrets("postgresql://u@h/db?sslmode=off&password=X")
'postgresql://u@h/db?sslmode=off&password=***'
>>> printable("in\\x1b[2Jvoice\\n.csv")
'in\\\\x1b[2Jvoice\\\\n.csv'
"""

from __future__ import annotations

import functools
import re

__all__ = ["MASK", "SECRET_MARKS", "mask_secrets", "printable", "url_has_secret"]

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

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
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


def url_has_secret(text: str) -> bool:
    """True when ``text`` carries a password (in its userinfo or a secret parameter)."""
    return mask_secrets(text) != text


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters as visible escapes (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape, text)
