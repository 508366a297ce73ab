"""``s3://bucket/prefix`` targets, on boto3 — AWS S3 and S3-compatible stores.

Objects are named ``prefix/name``.  A single PUT, and the completion of a
multipart upload, are atomic: a reader never sees part of an object, so no
temporary name is used.  Files of ``multipart_threshold`` bytes or more go
up in parts of ``multipart_chunksize`` bytes, ``max_concurrency`` at a time;
boto3 sends a CRC checksum with every request, which the store checks.  The
object's ETag (the MD5 of a single-PUT object) is compared with the local
file's MD5 when verifying and when deciding ``conflict="skip"``.

Options: ``endpoint_url`` (S3-compatible stores), ``region``, ``path_style``
(bucket in the path, not the host name), ``access_key``, ``secret_key`` (or
``password``/``password_env``/``password_file``), ``session_token``,
``profile``; without keys boto3's usual sources apply (environment, config
files, instance roles).  ``timeout`` (connect and each read),
``max_attempts`` (boto3's own retries, default 3), ``multipart_threshold``
(default 64 MiB), ``multipart_chunksize`` (8 MiB), ``max_concurrency`` (8),
``ca_file``, ``verify_tls``.

With an ``endpoint_url``, objects below the multipart threshold are sent by
:mod:`entrepot.targets.s3_put` (botocore's signer, one kept-alive connection) instead of
``put_object``: the same request for a fraction of the CPU, which is what
limits thousands of small files.  ``fast_put=false`` turns that off.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import threading
import time
from collections.abc import Iterable
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    PermanentTargetError,
    PermissionDenied,
    RemoteNotFound,
    TargetError,
    TargetTimeout,
    TransientTargetError,
)
from entrepot.targets.base import Progress, RemoteInfo, Target
from entrepot.targets.s3_put import SignedPut
from entrepot.targets.url import TargetURL

MiB = 1024 * 1024
_AUTH_CODES = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
}
_TRANSIENT_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
}


_sessions: dict[tuple[str | None, ...], boto3.session.Session] = {}
_sessions_lock = threading.Lock()


class S3Target(Target):
    """A prefix in an S3 bucket; see the module docstring."""

    scheme = "s3"
    atomic_put = True
    option_types: ClassVar[dict[str, type]] = {
        "endpoint_url": str,
        "region": str,
        "path_style": bool,
        "access_key": str,
        "secret_key": str,
        "session_token": str,
        "profile": str,
        "max_attempts": int,
        "multipart_threshold": int,
        "multipart_chunksize": int,
        "max_concurrency": int,
        "ca_file": str,
        "verify_tls": bool,
        "fast_put": bool,
    }

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        self.bucket = url.host
        self.prefix = url.path.strip("/")
        opts = self.options
        self.endpoint_url: str | None = opts.get("endpoint_url")
        self.transfer_config = TransferConfig(
            multipart_threshold=opts.get("multipart_threshold") or 64 * MiB,
            multipart_chunksize=opts.get("multipart_chunksize") or 8 * MiB,
            max_concurrency=opts.get("max_concurrency") or 8,
            use_threads=True,
        )
        self._client: Any = None
        self._transfer_client: Any = None
        self._session: Any = None
        self._signed_put: SignedPut | None = None

    @property
    def host(self) -> str:
        if self.endpoint_url:
            return urlsplit(self.endpoint_url).hostname or self.endpoint_url
        return f"{self.bucket}.s3.amazonaws.com"

    @property
    def port(self) -> int | None:
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            return parts.port or (443 if parts.scheme == "https" else 80)
        return 443

    def remote_path(self, path: str) -> str:
        return f"s3://{self.bucket}/{self._key(path)}"

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix and path else (path or self.prefix)

    # -- connection ------------------------------------------------------------------

    def _new_client(self, *, checksums: bool) -> Any:
        opts = self.options
        config = Config(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"total_max_attempts": opts.get("max_attempts") or 3, "mode": "standard"},
            s3={"addressing_style": "path" if opts.get("path_style") else "auto"},
            max_pool_connections=max(10, self.transfer_config.max_request_concurrency),
            # Small PUTs carry a Content-MD5 the store checks; multipart parts a CRC.
            request_checksum_calculation="when_supported" if checksums else "when_required",
            parameter_validation=False,
        )
        verify: bool | str | None = opts.get("ca_file") or None
        if opts.get("verify_tls") is False:
            verify = False
        key = (
            opts.get("access_key"),
            opts.get("secret_key") or self.password,
            opts.get("session_token"),
            opts.get("profile"),
        )
        # Building a session loads the service model from disk (slow); share one per
        # set of credentials.  Sessions are not thread-safe, hence the lock.
        with _sessions_lock:
            session = _sessions.get(key)
            if session is None:
                session = boto3.session.Session(
                    aws_access_key_id=key[0],
                    aws_secret_access_key=key[1],
                    aws_session_token=key[2],
                    profile_name=key[3],
                )
                _sessions[key] = session
            self._session = session
            return session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=opts.get("region"),
                config=config,
                verify=verify,
            )

    @property
    def transfer_client(self) -> Any:
        """A second client, for multipart transfers (created on first use)."""
        if self._transfer_client is None:
            self._transfer_client = self._new_client(checksums=True)
        return self._transfer_client

    def _connect(self) -> None:
        client = self._new_client(checksums=False)
        opts = self.options
        if self.endpoint_url and opts.get("fast_put", True):
            self._signed_put = SignedPut(
                self._session,
                self.endpoint_url,
                client.meta.region_name or "us-east-1",
                self.bucket,
                path_style=bool(opts.get("path_style")),
                timeout=self.timeout,
                ca_file=opts.get("ca_file"),
                verify_tls=opts.get("verify_tls", True),
            )
        try:
            client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=1)
        except botocore.exceptions.ClientError as exc:
            # A write-only identity may not list: only a wrong key or bucket stops us here.
            if _code(exc) not in {"AccessDenied", "403"}:
                client.close()
                raise
        self._client = client

    def _disconnect(self) -> None:
        clients = (self._client, self._transfer_client)
        self._client = self._transfer_client = None
        if self._signed_put is not None:
            self._signed_put.close()
            self._signed_put = None
        for client in clients:
            if client is not None:
                client.close()

    @property
    def client(self) -> Any:
        assert self._client is not None, "not connected"
        return self._client

    # -- primitives ------------------------------------------------------------------

    def _put(
        self, path: str, src: IO[bytes], size: int, progress: Progress | None
    ) -> RemoteInfo | None:
        key = self._key(path)
        if size < self.transfer_config.multipart_threshold:
            body = src.read(size)
            if self._signed_put is not None:
                etag = self._signed_put.put(key, body)
            else:
                digest = hashlib.md5(body, usedforsecurity=False)
                response = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
                )
                etag = response.get("ETag")
            if progress is not None:
                progress(size)
            return RemoteInfo(path, len(body), time.time(), _checksum(etag))
        name = getattr(src, "name", None)
        if isinstance(name, str) and src.tell() == 0 and os.path.getsize(name) == size:
            # From a named file, parts are read in parallel (faster than a stream).
            self.transfer_client.upload_file(
                name, self.bucket, key, Config=self.transfer_config, Callback=progress
            )
        else:
            self.transfer_client.upload_fileobj(
                src, self.bucket, key, Config=self.transfer_config, Callback=progress
            )
        return None

    def _get(self, path: str, dst: IO[bytes], progress: Progress | None) -> None:
        response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
        with contextlib.closing(response["Body"]) as body:
            for chunk in body.iter_chunks(MiB):
                dst.write(chunk)
                if progress is not None:
                    progress(len(chunk))

    def _stat(self, path: str) -> RemoteInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return RemoteInfo(
            path,
            int(head["ContentLength"]),
            head["LastModified"].timestamp(),
            _checksum(head.get("ETag")),
        )

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        base = self._key(folder)
        prefix = f"{base}/" if base else ""
        strip = len(self._key("")) + 1 if self.prefix else 0
        found: list[RemoteInfo] = []
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for item in page.get("Contents", []):
                name = item["Key"][strip:]
                if name and not name.endswith("/"):
                    mtime = item["LastModified"].timestamp()
                    found.append(
                        RemoteInfo(name, int(item["Size"]), mtime, _checksum(item.get("ETag")))
                    )
            for common in page.get("CommonPrefixes", []):
                found.append(RemoteInfo(common["Prefix"][strip:].rstrip("/"), 0, None, None, True))
        if folder and not found:
            # S3 has no folders: an empty prefix is a folder that does not exist.
            raise self._error(RemoteNotFound, "no such folder", folder)
        return found

    def _rename(self, src: str, dst: str) -> None:
        if self._stat(src) is None:
            raise self._error(RemoteNotFound, None, src)
        # S3 has no rename: copy (server-side), then delete the original.
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        self.client.copy(source, self.bucket, self._key(dst), Config=self.transfer_config)
        self.client.delete_object(Bucket=self.bucket, Key=self._key(src))

    def _delete(self, path: str) -> None:
        # DELETE succeeds on a missing key; the contract says RemoteNotFound.
        if self._stat(path) is None:
            raise self._error(RemoteNotFound, None, path)
        self.client.delete_object(Bucket=self.bucket, Key=self._key(path))

    def _makedirs(self, folder: str) -> None:
        """Nothing to do: a key's prefix needs no folder."""

    # -- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, path: str) -> TargetError:
        root = _root_cause(exc)
        if isinstance(root, botocore.exceptions.ClientError):
            return self._client_error(root, path)
        if isinstance(exc, http.client.HTTPException):
            return self._error(ConnectionFailed, f"connection failed: {type(exc).__name__}", path)
        if isinstance(
            root, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError
        ):
            return self._error(TargetTimeout, f"timed out after {self.timeout:g} s", path)
        if isinstance(root, botocore.exceptions.EndpointConnectionError):
            return self._error(ConnectionFailed, "could not connect to the endpoint", path)
        if isinstance(
            root, botocore.exceptions.ConnectionClosedError | botocore.exceptions.HTTPClientError
        ):
            return self._error(ConnectionFailed, f"connection failed: {type(root).__name__}", path)
        if isinstance(
            root,
            botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError,
        ):
            return self._error(AuthenticationFailed, "no S3 credentials found", path)
        if isinstance(root, botocore.exceptions.ProfileNotFound):
            return self._error(AuthenticationFailed, str(root), path)
        return super()._translate(root if isinstance(root, Exception) else exc, path)

    def _client_error(self, exc: botocore.exceptions.ClientError, path: str) -> TargetError:
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = exc.response.get("Error", {}).get("Message") or code
        text = f"{code}: {message}" if message != code else code
        if code in _AUTH_CODES:
            return self._error(
                AuthenticationFailed, f"the store refused the credentials ({text})", path
            )
        if code == "NoSuchBucket":
            return self._error(RemoteNotFound, f"no such bucket {self.bucket!r}", path)
        if code in {"NoSuchKey", "404", "NotFound"}:
            return self._error(RemoteNotFound, None, path)
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return self._error(PermissionDenied, f"the store denied access ({text})", path)
        if code in _TRANSIENT_CODES or status >= 500:
            return self._error(TransientTargetError, f"the store is busy or failing ({text})", path)
        return self._error(PermanentTargetError, f"the store refused the request ({text})", path)


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _checksum(etag: str | None) -> str | None:
    """``md5:<hex>`` for a single-PUT object's ETag; None for multipart ETags."""
    if not etag:
        return None
    value = etag.strip('"')
    if "-" in value or len(value) != 32:
        return None
    return f"md5:{value.lower()}"


def _root_cause(exc: BaseException) -> BaseException:
    """The botocore error behind wrappers such as s3transfer's."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
            found: BaseException = current
            return found
        current = current.__cause__ or current.__context__
        seen += 1
    return exc
