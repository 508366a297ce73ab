"""TLS client contexts built from a target's ``verify_tls`` and ``ca_file`` options.

A ``ca_file`` that cannot be used — missing, unreadable, a folder, a file
with no certificate in it — is the configuration's mistake, not the
network's: it is a :class:`~entrepot.errors.ConfigError` (exit 3) naming
the option and the path, raised when the target is opened, never a
"no such remote file" or a transient failure retried for ever.  An empty
``ca_file`` means the system trust store.

Any target speaking TLS through :mod:`ssl` builds its context here.  A
target whose client takes the path itself (boto3's ``verify=``) names
:class:`CAFile` as the option's type: the file is checked as the options
are read, so the same mistake is the same error there too.
"""

from __future__ import annotations

import ssl
import sys
from typing import Self

from entrepot.errors import AuthenticationFailed, ConfigError, ConnectionFailed, TargetError

__all__ = ["CAFile", "client_context", "tls_failure"]


def client_context(*, verify_tls: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that checks the server against ``ca_file`` (or the system store).

    ``verify_tls=False`` checks nothing (the caller warns about it).
    """
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except ssl.SSLError as exc:  # before OSError, which it is a kind of
        raise ConfigError(
            f"ca_file {ca_file!r}: no usable certificate in it (a PEM file of CA "
            f"certificates is expected): {getattr(exc, 'reason', None) or exc}"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"ca_file {ca_file!r}: {exc.strerror or exc}") from exc
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class CAFile(str):
    """A ``ca_file`` option's value, checked by :func:`client_context` as it is read.

    As the type of the option (``option_types``), it makes an unusable file
    a ConfigError when the target is opened, before anything connects.
    """

    def __new__(cls, value: object) -> Self:
        path = str(value)
        if path:
            client_context(ca_file=path)
        return super().__new__(cls, path)


def tls_failure(exc: BaseException) -> tuple[type[TargetError], str] | None:
    """What a TLS failure raised as ``exc``, or behind it, means; None if none is.

    A certificate that cannot be verified — self-signed, from an unknown CA,
    for another host, expired — will not become trusted by trying again: it
    is an authentication failure, never a network blip.  Clients that wrap
    the :mod:`ssl` error (botocore, urllib3) are looked through.
    """
    # urllib3 checks the host name itself, with its own error (the module is looked
    # up, never imported: only a client that uses it has loaded it).
    matching = sys.modules.get("urllib3.util.ssl_match_hostname")
    mismatch = getattr(matching, "CertificateError", ssl.CertificateError)
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return None
        if isinstance(current, ssl.SSLCertVerificationError):
            # An error made by hand may lack the attributes ssl gives its own.
            reason = (getattr(current, "verify_message", None)
                      or getattr(current, "reason", None) or "verification failed")  # fmt: skip
            return AuthenticationFailed, f"TLS certificate not trusted: {reason}"
        if isinstance(current, mismatch):
            return AuthenticationFailed, f"TLS certificate not trusted: {current}"
        if isinstance(current, ssl.SSLError):
            return ConnectionFailed, f"TLS error: {getattr(current, 'reason', None) or current}"
        current = current.__cause__ or current.__context__
    return None
