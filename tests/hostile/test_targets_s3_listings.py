"""S3 listings a store gets wrong: encodings that hide a DTD, continuation tokens that
go round in circles, keys outside the prefix asked for — and a listing of many
pages, each prompt, longer in all than the deadline.

* A listing that is not UTF-8 is refused, and so is one that declares a DTD
  however it is encoded: a connection failure (exit 5), nothing listed.
* A continuation token the store gave before ends the listing at once as a
  connection failure (exit 5) that says so, on the direct path and through
  boto3 — never a loop until the deadline, never an interpreter error.
* The deadline bounds each page, not the listing: pages that each come well
  within ``timeout`` are listed however long the whole takes.
* A key the store lists outside the prefix asked for is left out and logged,
  never listed under a name cut to fit.

The store is the scripted fake of :mod:`tests.hostile.test_targets_s3_direct`;
both the direct path and boto3 (``fast_put=false``) read its listings.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from entrepot.errors import ConnectionFailed
from entrepot.targets import open_target
from tests.hostile._targets import entrepot
from tests.hostile.test_targets_s3_direct import FakeStore, Handler, answer

pytestmark = pytest.mark.server

PATHS = {"direct": {}, "boto3": {"fast_put": "false"}}
KEYS = {"access_key": "AK", "secret_key": "SK"}


def listing(
    keys: list[str],
    *,
    token: str | None = None,
    folders: tuple[str, ...] = (),
    encoding: str = "utf-8",
) -> bytes:
    """A ``ListBucketResult`` page naming ``keys`` (and ``folders``), truncated when a
    ``token`` for the next page is given."""
    contents = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;0123&quot;</ETag><Size>3</Size></Contents>"
        for key in keys
    )
    commons = "".join(f"<CommonPrefixes><Prefix>{f}</Prefix></CommonPrefixes>" for f in folders)
    more = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>bucket</Name><IsTruncated>{'true' if token else 'false'}</IsTruncated>"
        f"{more}{contents}{commons}</ListBucketResult>"
    ).encode(encoding)


def ok(body: bytes) -> Handler:
    return answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def query(request: bytes) -> dict[str, str]:
    """The query parameters of ``request``'s request line."""
    target = request.split(b" ", 2)[1].decode("latin-1")
    return {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()}


def listings(page: Callable[[dict[str, str]], Handler]) -> Callable[[int, bytes], Handler]:
    """Answer the check made on connecting with an empty page, each listing with ``page``."""

    def handle(number: int, request: bytes) -> Handler:
        asked = query(request)
        if asked.get("max-keys") == "1" and "delimiter" not in asked:
            return ok(listing([]))
        return page(asked)

    return handle


@pytest.fixture
def store() -> Iterator[Callable[[Callable[[dict[str, str]], Handler]], FakeStore]]:
    stores: list[FakeStore] = []

    def start(page: Callable[[dict[str, str]], Handler]) -> FakeStore:
        stores.append(FakeStore(listings(page)))
        return stores[-1]

    yield start
    for one in stores:
        one.close()


# -- encodings and DTDs --------------------------------------------------------------------

SMUGGLED = (
    '<?xml version="1.0" encoding="UTF-16"?>'
    '<!DOCTYPE x [<!ENTITY e "in/sneaky.csv">]>'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Name>bucket</Name><IsTruncated>false</IsTruncated>"
    "<Contents><Key>&e;</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
    "<Size>3</Size></Contents></ListBucketResult>"
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "body",
    [
        SMUGGLED.encode("utf-16"),  # with a byte-order mark
        SMUGGLED.encode("utf-16-le"),  # without one
        SMUGGLED.encode("utf-32"),
        listing(["in/a.csv"], encoding="utf-16"),  # no DTD, but not UTF-8 either
    ],
    ids=["utf-16 DTD", "utf-16-le DTD, no BOM", "utf-32 DTD", "utf-16"],
)
def test_a_listing_that_is_not_utf8_is_refused(
    store: Callable[..., FakeStore], body: bytes
) -> None:
    fake = store(lambda asked: ok(body))
    target = open_target(fake.url(), timeout=10, **KEYS)
    with target, pytest.raises(ConnectionFailed, match="not UTF-8") as caught:
        target.list()
    assert caught.value.transient


@pytest.mark.timeout(60)
def test_a_listing_in_utf8_with_a_dtd_is_refused(store: Callable[..., FakeStore]) -> None:
    body = SMUGGLED.replace('encoding="UTF-16"', 'encoding="UTF-8"').encode()
    fake = store(lambda asked: ok(body))
    target = open_target(fake.url(), timeout=10, **KEYS)
    with target, pytest.raises(ConnectionFailed, match="declares a DTD"):
        target.list()


# -- continuation tokens -------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", PATHS)
def test_a_repeated_continuation_token_ends_the_listing_as_a_connection_failure(
    store: Callable[..., FakeStore], path: str
) -> None:
    # The first page leads to the second, which leads back to the second.
    def page(asked: dict[str, str]) -> Handler:
        token = asked.get("continuation-token")
        return ok(listing([f"in/{token or 'first'}.csv"], token="second"))

    fake = store(page)
    target = open_target(fake.url(**PATHS[path]), timeout=10, **KEYS)
    started = time.monotonic()
    with target, pytest.raises(ConnectionFailed, match="would never end") as caught:
        target.list()
    assert time.monotonic() - started < 5  # not a loop until the deadline
    assert caught.value.transient
    assert "Error" not in str(caught.value)
    pages = [request for _, request in fake.requests if b"delimiter=" in request]
    assert len(pages) <= 4  # two a try, one try again on a new connection at most


@pytest.mark.timeout(60)
def test_ls_of_a_listing_that_repeats_its_token_exits_5(store: Callable[..., FakeStore]) -> None:
    fake = store(lambda asked: ok(listing(["in/a.csv"], token="again")))
    url = fake.url(fast_put="false", access_key="AK", secret_key="SK")
    done = entrepot("ls", url, "--timeout", "10")
    assert done.returncode == 5, done.stderr
    assert "would never end" in done.stderr
    assert "PaginationError" not in done.stderr


# -- a deadline for each page --------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", PATHS)
def test_a_listing_of_many_prompt_pages_outlasts_the_deadline(
    store: Callable[..., FakeStore], path: str
) -> None:
    pages = 6

    def page(asked: dict[str, str]) -> Handler:
        number = int(asked.get("continuation-token", "0"))
        nxt = str(number + 1) if number + 1 < pages else None
        body = listing([f"in/{number}.csv"], token=nxt)
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

        def later(conn: socket.socket, request: bytes) -> None:
            time.sleep(0.4)  # well within the deadline; six of them are not
            conn.sendall(reply)

        return later

    fake = store(page)
    timeout = 1.5
    target = open_target(fake.url(**PATHS[path]), timeout=timeout, **KEYS)
    started = time.monotonic()
    with target:
        names = [entry.name for entry in target.list()]
    assert time.monotonic() - started > timeout
    assert names == [f"{n}.csv" for n in range(pages)]


# -- keys outside the prefix ---------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", PATHS)
def test_keys_outside_the_prefix_are_left_out_and_logged(
    store: Callable[..., FakeStore], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = ["in/ok.csv", "zzzzzzsneak.csv", "i/n.csv"]
    fake = store(lambda asked: ok(listing(keys, folders=("in/sub/", "elsewhere/"))))
    target = open_target(fake.url(**PATHS[path]), timeout=10, **KEYS)
    with target:
        listed = [(entry.name, entry.is_dir) for entry in target.list()]
    assert listed == [("ok.csv", False), ("sub", True)]
    skipped = [r.getMessage() for r in caplog.records if "targets.entry_skipped" in r.getMessage()]
    assert len(skipped) == 3
    assert all("outside the prefix" in line for line in skipped)
