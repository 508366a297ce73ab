"""AWS Signature Version 4 for the S3 requests made directly (:mod:`entrepot.targets.s3_direct`).

botocore's signer builds a request object, parses its URL twice and
canonicalises the headers through the email package: about 175 µs of CPU
per request, a third of what a 4 KiB PUT costs the client.  The fast path
knows its requests exactly — one method, a path already encoded, a few
query parameters, a handful of headers — so it signs them directly, as the specification
describes (and as botocore would: every header but ``expect``,
``transfer-encoding`` and ``user-agent`` signed, the payload's SHA-256
included).  The derived signing key is kept for the day it is valid.

>>> signer = SigV4("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, "us-east-1")
>>> headers = signer.sign("PUT", "example.s3.amazonaws.com", "/a.txt", {}, b"", now=0.0)
>>> headers["x-amz-date"], headers["x-amz-content-sha256"][:16]
('19700101T000000Z', 'e3b0c44298fc1c14')
>>> headers["Authorization"].split(", ")[1]
'SignedHeaders=host;x-amz-content-sha256;x-amz-date'
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

__all__ = ["SigV4", "query_string"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = frozenset({"expect", "transfer-encoding", "user-agent"})


class SigV4:
    """Signs requests to one region's S3 with one set of credentials."""

    def __init__(self, access_key: str, secret_key: str, token: str | None, region: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        self.region = region
        self._day = ""
        self._key = b""

    def _signing_key(self, day: str) -> bytes:
        if day != self._day:
            key = _hmac(f"AWS4{self.secret_key}".encode(), day)
            for part in (self.region, "s3", "aws4_request"):
                key = _hmac(key, part)
            self._day, self._key = day, key
        return self._key

    def sign(
        self,
        method: str,
        host: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        query: str = "",
        now: float | None = None,
        payload_hash: str | None = None,
    ) -> dict[str, str]:
        """The headers to send: ``headers`` with the date, payload hash and signature added.

        ``path`` is sent as given (already percent-encoded, as S3 signs it);
        ``query`` is made by :func:`query_string`, and sent as it is signed.
        ``payload_hash``: the hexadecimal SHA-256 of ``body``, when the caller has
        it already (else computed here).
        """
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        day = stamp[:8]
        # Values canonicalised as botocore does: surrounding and repeated spaces dropped.
        signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
        signed["host"] = host
        signed["x-amz-date"] = stamp
        signed["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
        if self.token:
            signed["x-amz-security-token"] = self.token
        names = sorted(name for name in signed if name not in _UNSIGNED)
        canonical = "\n".join(
            [
                method,
                path,
                query,
                *(f"{name}:{signed[name]}" for name in names),
                "",
                ";".join(names),
                signed["x-amz-content-sha256"],
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            [_ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = hmac.new(self._signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        signed["Authorization"] = (
            f"{_ALGORITHM} Credential={self.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return signed


def query_string(params: dict[str, str]) -> str:
    """``params`` in SigV4's canonical form: sorted, every byte but ``-_.~`` encoded."""
    pairs = sorted(
        (quote(key, safe="-_.~"), quote(value, safe="-_.~")) for key, value in params.items()
    )
    return "&".join(f"{key}={value}" for key, value in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
