"""Pages of an S3 listing (``ListObjectsV2``), read directly or through boto3, and ETags.

The request asks for ``encoding-type=url``, as boto3 does: a key may hold
characters XML cannot carry, so the store percent-encodes keys and
prefixes, and they are decoded here.  Anything but a well-formed
``ListBucketResult`` in UTF-8 is refused — a page is never half read — and
so is a document that declares a DTD, however it is encoded (entity
expansion has no place in a listing).
An object whose size is not a count of bytes is read with no size (None),
for the target to leave out of its listing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus
from xml.etree import ElementTree

from entrepot.logs import log_event
from entrepot.targets.info import RemoteInfo, listed_size

if TYPE_CHECKING:
    from entrepot.targets.s3_direct import DirectS3

Pages = Iterator[tuple[list["Listed"], list[str]]]

__all__ = [
    "ListPage",
    "Listed",
    "boto3_pages",
    "direct_pages",
    "entries",
    "etag_checksum",
    "etag_info",
    "parse_page",
    "sized",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    """One object of a listing: its key, size (None: not a count of bytes), modification
    time and ETag."""

    key: str
    size: int | None
    mtime: float
    etag: str | None


@dataclass(frozen=True)
class ListPage:
    """The objects and common prefixes of one page, and the token of the next."""

    objects: list[Listed] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    next_token: str | None = None


def parse_page(body: bytes) -> ListPage:
    """Read one ``ListBucketResult``; ValueError when it is not one."""
    root = _document(body)
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    if root.tag != f"{namespace}ListBucketResult":
        raise ValueError(f"the listing is a {root.tag!r}, not a ListBucketResult")

    def text(element: ElementTree.Element, name: str) -> str | None:
        found = element.find(namespace + name)
        return None if found is None else (found.text or "")

    encoded = text(root, "EncodingType") == "url"

    def name(value: str | None) -> str:
        if value is None:
            raise ValueError("a listed entry has no key")
        return unquote_plus(value) if encoded else value

    page = ListPage()
    for item in root.iterfind(namespace + "Contents"):
        modified = datetime.fromisoformat(text(item, "LastModified") or "")
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        page.objects.append(
            Listed(
                name(text(item, "Key")),
                listed_size(text(item, "Size") or "0"),
                modified.timestamp(),
                text(item, "ETag"),
            )
        )
    for item in root.iterfind(namespace + "CommonPrefixes"):
        page.prefixes.append(name(text(item, "Prefix")))
    if text(root, "IsTruncated") == "true":
        token = text(root, "NextContinuationToken")
        if not token:
            raise ValueError("a truncated listing without a continuation token")
        return ListPage(page.objects, page.prefixes, token)
    return page


class _NoDTD(ElementTree.TreeBuilder):
    """A tree builder that stops the parser at a document type declaration."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        # A listing never declares a DTD: one would only be there to blow up the parser.
        raise ValueError("the listing declares a DTD")


def _document(body: bytes) -> ElementTree.Element:
    """The root of ``body``, read as UTF-8 whatever it declares; ValueError for anything
    else, or a document with a DTD (so with entities), however it is encoded."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the listing is not UTF-8 text") from None
    if b"\x00" in body:  # UTF-16 or UTF-32 whose characters are all ASCII
        raise ValueError("the listing is not UTF-8 text")
    # Read as UTF-8 whatever the document declares; the DTD is refused by the parser
    # itself, as it meets one (ElementTree never fetches external entities).
    parser = ElementTree.XMLParser(target=_NoDTD(), encoding="UTF-8")  # noqa: S314
    try:
        parser.feed(body)
        root: ElementTree.Element = parser.close()
    except ElementTree.ParseError as exc:
        raise ValueError(f"the listing is not XML: {exc}") from None
    return root


def direct_pages(direct: DirectS3, prefix: str, page_size: int) -> Pages:
    """The objects and common prefixes under ``prefix`` (``/`` delimited), page by page.

    A store that gives a continuation token it gave before would list forever:
    ConnectionError (boto3's paginator makes the same check).
    """
    token: str | None = None
    given: set[str] = set()
    while True:
        page = direct.list_page(prefix, delimiter="/", token=token, max_keys=page_size)
        token = page.next_token
        if token in given:
            raise ConnectionError(
                f"the store repeats the continuation token {token!r:.60}: "
                "its listing would never end"
            )
        yield page.objects, page.prefixes
        if token is None:
            return
        given.add(token)


def boto3_pages(client: Any, bucket: str, prefix: str) -> Pages:
    """The same pages, read through a boto3 client (which decodes the names itself)."""
    pages = client.get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        objects = [
            Listed(
                item["Key"],
                listed_size(item["Size"]),
                item["LastModified"].timestamp(),
                item.get("ETag"),
            )
            for item in page.get("Contents", [])
        ]
        yield objects, [common["Prefix"] for common in page.get("CommonPrefixes", [])]


def entries(pages: Pages, prefix: str, strip: int, url: str) -> Iterator[RemoteInfo]:
    """The objects and folders of ``pages``, named by their keys from character ``strip``
    on; keys the store gave outside ``prefix`` (what was asked for) are left out, and
    logged as ``targets.entry_skipped``."""
    for objects, prefixes in pages:
        for item, size in sized(objects, url):
            name = item.key[strip:]
            if not item.key.startswith(prefix):
                _outside(item.key, url)
            elif name and not name.endswith("/"):
                yield etag_info(name, size, item.mtime, item.etag)
        for common in prefixes:
            if common.startswith(prefix):
                yield RemoteInfo(common[strip:].rstrip("/"), 0, None, None, True)
            else:
                _outside(common, url)


def _outside(key: str, url: str) -> None:
    why = "the key is outside the prefix listed"
    log_event(logger, "targets.entry_skipped", logging.WARNING, url=url, name=key, reason=why)


def sized(objects: Iterable[Listed], url: str) -> Iterator[tuple[Listed, int]]:
    """The objects that have a size, with it; the others are logged, as
    ``targets.entry_skipped`` (``url``: the target's, to show)."""
    for item in objects:
        if item.size is None:
            why = "its size is not a count of bytes"
            log_event(
                logger, "targets.entry_skipped", logging.WARNING, url=url, name=item.key, reason=why
            )
        else:
            yield item, item.size


def etag_info(name: str, size: int, mtime: float | None, etag: str | None) -> RemoteInfo:
    """What an object's listing entry or HEAD says: its checksum and version from the ETag."""
    version = etag.strip('"') if etag else None
    return RemoteInfo(name, size, mtime, etag_checksum(etag), version=version)


def etag_checksum(etag: str | None) -> str | None:
    """``md5:<hex>`` for a single-PUT object's ETag; None for multipart ETags."""
    if not etag:
        return None
    value = etag.strip('"')
    if "-" in value or len(value) != 32:
        return None
    return f"md5:{value.lower()}"
