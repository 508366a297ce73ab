"""How a page of an S3 listing is read: UTF-8 only, never a DTD, sizes a server can state.

A listing page is read as UTF-8 whatever it declares; one in another encoding
is refused, and so is one that declares a DTD however it is encoded — the
parser itself stops at the declaration, before any entity is defined.
"""

from __future__ import annotations

import pytest

from entrepot.targets.info import MAX_LISTED_SIZE, listed_size
from entrepot.targets.s3_listing import parse_page

PAGE = (
    '<?xml version="1.0" encoding="{encoding}"?>{dtd}'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Name>bucket</Name><IsTruncated>false</IsTruncated>"
    "<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
    "<Size>3</Size></Contents></ListBucketResult>"
)
DTD = '<!DOCTYPE x [<!ENTITY e "sneaky.csv">]>'


def page(encoding: str = "UTF-8", *, dtd: str = "", key: str = "in/été.csv") -> str:
    return PAGE.format(encoding=encoding, dtd=dtd, key=key)


@pytest.mark.parametrize(
    "body",
    [
        page("UTF-16", dtd=DTD, key="&e;").encode("utf-16"),
        page("UTF-16", dtd=DTD, key="&e;").encode("utf-16-be"),
        page("UTF-32", dtd=DTD, key="&e;").encode("utf-32"),
        page("UTF-16").encode("utf-16"),
        page("ISO-8859-1").encode("latin-1"),  # é is not UTF-8
    ],
    ids=["utf-16 with a DTD", "utf-16-be with a DTD", "utf-32 with a DTD", "utf-16", "latin-1"],
)
def test_a_page_that_is_not_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_page(body)


@pytest.mark.parametrize(
    "dtd",
    [DTD, "<!DOCTYPE x>", '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">'],
    ids=["entity", "bare", "external"],
)
def test_a_page_that_declares_a_dtd_is_refused(dtd: str) -> None:
    with pytest.raises(ValueError, match="declares a DTD"):
        parse_page(page(dtd=dtd, key="&e;" if "ENTITY" in dtd else "a").encode())


def test_a_page_is_read_as_utf8_whatever_it_declares() -> None:
    assert [item.key for item in parse_page(page().encode()).objects] == ["in/été.csv"]
    body = page("ISO-8859-1").encode()  # declared Latin-1, written in UTF-8
    assert [item.key for item in parse_page(body).objects] == ["in/été.csv"]
    with_mark = b"\xef\xbb\xbf" + page().encode()
    assert [item.key for item in parse_page(with_mark).objects] == ["in/été.csv"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        (str(MAX_LISTED_SIZE), 2**64 - 1),
        (str(MAX_LISTED_SIZE + 1), None),
        ("9" * 21, None),
        (MAX_LISTED_SIZE, 2**64 - 1),
        (MAX_LISTED_SIZE + 1, None),
    ],
)
def test_a_listed_size_is_at_most_what_a_server_can_state(text: object, size: int | None) -> None:
    assert listed_size(text) == size
