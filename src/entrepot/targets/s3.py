"""``s3://bucket/prefix`` targets, on boto3 — AWS S3 and S3-compatible stores.

Objects are named ``prefix/name``.  A single PUT, and the completion of a
multipart upload, are atomic: a reader never sees part of an object, so no
temporary name is used.  Files of ``multipart_threshold`` bytes or more go
up in parts of ``multipart_chunksize`` bytes, ``max_concurrency`` at a time;
boto3 sends a CRC checksum with every request, which the store checks.  The
object's ETag (the MD5 of a single-PUT object) is compared with the local
file's MD5 when verifying and when deciding ``conflict="skip"``.

Options: ``endpoint_url`` (S3-compatible stores), ``region``, ``path_style``
(bucket in the path, not the host name: always so with an ``endpoint_url``,
as boto3 does), ``access_key``, ``secret_key`` (or
``password``/``password_env``/``password_file``), ``session_token``,
``profile``; without keys boto3's usual sources apply (environment, config
files, instance roles).  ``timeout`` (connect, each read, and a call's
deadline without progress, botocore's retries included), ``max_attempts``
(boto3's own retries, default 3), ``multipart_threshold`` (default 64 MiB),
``multipart_chunksize`` (8 MiB), ``max_concurrency`` (8), ``ca_file``,
``verify_tls`` (false is warned about on every run), ``fast_put``,
``conditional_writes`` (``If-None-Match: *`` for the ``exclusive`` conflict
policy; asked of the store when not given: :mod:`.s3_conditional`).

With an ``endpoint_url``, objects below the multipart threshold are sent,
and listings read, directly (:mod:`entrepot.targets.s3_direct`) for a
tenth of boto3's CPU; with the keys given and nothing in the environment
for boto3 to add, boto3 is not even imported until a request only it makes
is needed (:func:`entrepot.targets.s3_client.boto3_needed`).  ``fast_put=false``
turns the direct path off, and so does any proxy or boto3-only CA bundle
(:func:`entrepot.targets.s3_client.fast_put_refusal`) and any endpoint or
bucket it would not address exactly as boto3 does (:mod:`.s3_address`).  A
fetch reads and deletes the version it listed, with ``If-Match`` (:mod:`.s3_versions`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from entrepot import errors
from entrepot.logs import log_event
from entrepot.targets.base import Target
from entrepot.targets.info import RemoteInfo
from entrepot.targets.s3_address import addressing_refusal
from entrepot.targets.s3_client import (
    Hangups,
    Reporting,
    boto3_needed,
    fast_put_refusal,
    new_client,
    session_credentials,
    session_for,
)
from entrepot.targets.s3_conditional import conditional_writes, exclusive_client
from entrepot.targets.s3_direct import DirectS3, DirectSettings
from entrepot.targets.s3_errors import classify, code_of
from entrepot.targets.s3_listing import (
    Listed,
    boto3_pages,
    direct_pages,
    entries,
    etag_checksum,
    etag_info,
)
from entrepot.targets.s3_multipart import upload_parts
from entrepot.targets.s3_versions import delete_key, delete_version, read
from entrepot.targets.tap import read_hashed
from entrepot.targets.tls import CAFile
from entrepot.targets.transfer import Progress

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

logger = logging.getLogger(__name__)
MiB = 1024 * 1024


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
        "ca_file": CAFile,
        "verify_tls": bool,
        "fast_put": bool,
        "conditional_writes": bool,
    }

    # Set by _connect, or on first use (the boto3 clients); none before.
    _client: Any = None
    _transfer_client: Any = None
    _exclusive_client: Any = None
    _direct: DirectS3 | None = None
    _hangups: Hangups | None = None
    #: Keys per page of a direct listing (the most S3 gives).
    _page_size = 1000

    @property
    def bucket(self) -> str:
        return self.target_url.host

    @property
    def prefix(self) -> str:
        return self.target_url.path.strip("/")

    @property
    def endpoint_url(self) -> str | None:
        return self.options.get("endpoint_url")

    @property
    def multipart_threshold(self) -> int:
        return int(self.options.get("multipart_threshold") or 64 * MiB)

    @functools.cached_property
    def transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.options.get("multipart_chunksize") or 8 * MiB,
            max_concurrency=self.options.get("max_concurrency") or 8,
            use_threads=True,
        )

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

    def _session(self) -> Any:
        opts = self.options
        return session_for(
            opts.get("access_key"),
            opts.get("secret_key") or self.password,
            opts.get("session_token"),
            opts.get("profile"),
        )

    def _new_client(self, *, checksums: bool) -> Any:
        verify: bool | str | None = self.options.get("ca_file") or None
        if self.options.get("verify_tls") is False:
            verify = False
        client = new_client(
            self._session(),
            endpoint_url=self.endpoint_url,
            region=self.options.get("region"),
            timeout=self.timeout,
            max_attempts=self.options.get("max_attempts") or 3,
            path_style=bool(self.options.get("path_style")),
            max_pool=max(10, self.transfer_config.max_request_concurrency),
            checksums=checksums,
            verify=verify,
        )
        if self._hangups is not None:
            self._hangups.track(client)
        return client

    @property
    def transfer_client(self) -> Any:
        """A second client, for multipart transfers (created on first use)."""
        if self._transfer_client is None:
            self._transfer_client = self._new_client(checksums=True)
        return self._transfer_client

    def _connect(self) -> None:
        self._hangups = Hangups()
        direct = self._direct_without_boto3()
        try:
            if direct is not None:
                self._direct = direct
                self._check_bucket(lambda: direct.list_page(self._key(""), max_keys=1))
            else:
                client = self._client = self._new_client(checksums=False)
                check = {"Bucket": self.bucket, "Prefix": self._key(""), "MaxKeys": 1}
                self._check_bucket(lambda: client.list_objects_v2(**check))
                self._direct = self._direct_with_boto3(client)
        except BaseException:
            self._disconnect()
            raise

    def _check_bucket(self, list_one: Callable[[], object]) -> None:
        try:
            list_one()
        except Exception as exc:
            # A write-only identity may not list: only a wrong key or bucket stops us here.
            if code_of(exc) not in {"AccessDenied", "403"}:
                raise

    def _direct_settings(self) -> DirectSettings:
        opts = self.options
        assert self.endpoint_url is not None
        return DirectSettings(
            self.endpoint_url,
            self.bucket,
            timeout=self.timeout,
            ca_file=opts.get("ca_file"),
            verify_tls=opts.get("verify_tls", True),
        )

    def _direct_without_boto3(self) -> DirectS3 | None:
        """The direct path with the keys given, when boto3 would add nothing of its own."""
        opts = self.options
        access, secret = opts.get("access_key"), opts.get("secret_key") or self.password
        if not (self.endpoint_url and opts.get("fast_put", True) and access and secret):
            return None
        if boto3_needed(self.endpoint_url, opts.get("ca_file"), opts.get("region"), opts):
            return None
        if addressing_refusal(self.endpoint_url, self.bucket):
            return None  # said when boto3's client is made, in _direct_with_boto3
        keys = (access, secret, opts.get("session_token"))
        return DirectS3(lambda: keys, opts.get("region") or "us-east-1", self._direct_settings())

    def _direct_with_boto3(self, client: Any) -> DirectS3 | None:
        """The direct path with the credentials boto3 found, unless it must step aside."""
        if not (self.endpoint_url and self.options.get("fast_put", True)):
            return None
        session = self._session()
        refusal = fast_put_refusal(
            session, self.endpoint_url, self.options.get("ca_file")
        ) or addressing_refusal(self.endpoint_url, self.bucket)
        if refusal is not None:
            log_event(logger, "targets.s3_fast_put_off", logging.INFO, url=self.url, why=refusal)
            return None
        region = client.meta.region_name or "us-east-1"
        return DirectS3(session_credentials(session), region, self._direct_settings())

    def _disconnect(self) -> None:
        clients = (self._client, self._transfer_client, self._exclusive_client)
        self._client = self._transfer_client = self._exclusive_client = None
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        for client in clients:
            if client is not None:
                client.close()

    def _abort(self) -> None:
        if self._hangups is not None:
            self._hangups.hang_up()
        if self._direct is not None:
            self._direct.hang_up()

    @property
    def client(self) -> Any:
        """The boto3 client (created on first use when the direct path was enough so far)."""
        if self._client is None:
            self._client = self._new_client(checksums=False)
        return self._client

    # -- primitives ------------------------------------------------------------------

    def _conditional_writes(self) -> bool:
        return conditional_writes(self)

    def _put_if_absent(
        self, path: str, src: IO[bytes], size: int, progress: Progress
    ) -> RemoteInfo | None:
        return self._put(path, src, size, progress, if_absent=True)

    def _put(
        self, path: str, src: IO[bytes], size: int, progress: Progress, *, if_absent: bool = False
    ) -> RemoteInfo | None:
        key = self._key(path)
        if size < self.multipart_threshold:
            # Through a tap, the body's SHA-256 is taken as it is read: it signs the request.
            body, sha256 = read_hashed(src, size)
            if self._direct is not None:
                etag = self._direct.put(key, body, progress, if_absent=if_absent, sha256=sha256)
            else:
                digest = hashlib.md5(body, usedforsecurity=False)
                response = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    # Read by botocore as it sends: each read keeps the deadline alive.
                    Body=Reporting(body, self._progressed),
                    ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
                    **({"IfNoneMatch": "*"} if if_absent else {}),
                )
                etag = response.get("ETag")
                progress(size)
            return RemoteInfo(path, len(body), time.time(), etag_checksum(etag))
        if if_absent and self._exclusive_client is None:
            self._exclusive_client = exclusive_client(self)
        client = self._exclusive_client if if_absent else self.transfer_client
        upload_parts(client, self.bucket, key, src, size, self.transfer_config, progress)
        return None

    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        read(self, path, write, progress)

    def _get_version(
        self, path: str, write: Callable[[bytes], object], progress: Progress, version: str
    ) -> None:
        read(self, path, write, progress, version)

    def _stat(self, path: str) -> RemoteInfo | None:
        if self._direct is not None:
            found = self._direct.head(self._key(path))
            if found is None:
                return None
            return etag_info(path, found.size, found.mtime, found.etag)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as exc:
            if code_of(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        size, mtime = int(head["ContentLength"]), head["LastModified"].timestamp()
        return etag_info(path, size, mtime, head.get("ETag"))

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        base = self._key(folder)
        prefix = f"{base}/" if base else ""
        strip = len(self._key("")) + 1 if self.prefix else 0
        found = list(entries(self._pages(prefix), prefix, strip, self.url))
        if folder and not found:
            # S3 has no folders: an empty prefix is a folder that does not exist.
            raise self._error(errors.RemoteNotFound, "no such folder", folder)
        return found

    def _pages(self, prefix: str) -> Iterator[tuple[list[Listed], list[str]]]:
        """The objects and common prefixes under ``prefix``, one page at a time."""
        if self._direct is not None:
            pages = direct_pages(self._direct, prefix, self._page_size)
        else:
            pages = boto3_pages(self.client, self.bucket, prefix)
        for page in pages:
            # Each page is a reply: the deadline bounds the next one, not the listing.
            self._answered()
            yield page

    def _rename(self, src: str, dst: str) -> None:
        if self._stat(src) is None:
            raise self._error(errors.RemoteNotFound, None, src)
        # S3 has no rename: copy (server-side, each part reported), then delete.
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        self.client.copy(
            source,
            self.bucket,
            self._key(dst),
            Config=self.transfer_config,
            Callback=self._progressed,
        )
        self.client.delete_object(Bucket=self.bucket, Key=self._key(src))

    def _delete(self, path: str) -> None:
        # DELETE succeeds on a missing key; the contract says RemoteNotFound.
        if self._stat(path) is None:
            raise self._error(errors.RemoteNotFound, None, path)
        delete_key(self, path)

    def _delete_version(self, path: str, version: str) -> None:
        delete_version(self, path, version)

    def _makedirs(self, folder: str) -> None:
        """Nothing to do: a key's prefix needs no folder."""

    # -- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, path: str) -> errors.TargetError:
        found = classify(exc, bucket=self.bucket, timeout=self.timeout)
        if found is None:
            return super()._translate(exc, path)
        cls, message = found
        return self._error(cls, message, path)
