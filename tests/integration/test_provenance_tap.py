"""A shipped file's checksum comes from the reads of its upload, on every real server.

Files that another program put into ``new/`` have no receipt: their
checksum is taken as the upload reads them (:mod:`entrepot.targets.tap`) —
read once, not twice (S3 signs each request with the hash the tap took
of its body; a small file is read whole at once and sent from memory).  A
larger file over plain FTP, which the kernel sends (``sendfile``), is read
for its checksum beside the transfer, not after it.  Either way the
trace's checksum is that of the bytes on the server.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, find
from entrepot.provenance.reader import by_file
from entrepot.ship import ShipJob, trail
from entrepot.spool import Spool
from entrepot.targets.behind import Behind
from entrepot.targets.s3_signing import SigV4
from entrepot.targets.tap import WHOLE, Tap

pytestmark = pytest.mark.server

#: Server fixture, the files read for their checksum beside the kernel's transfer (of 3:
#: one small, read whole by its tap, two larger), and whether the taps hash the larger
#: ones as they are read: once where Python sends them — the checks of a backend (S3's
#: MD5 against its ETag) read past the tap — never where the kernel does.  Every file is
#: hashed once; none is read again after its upload.
SERVERS = [
    ("ftp_server", 2, False),
    ("ftps_server", 0, True),
    ("sftp_server", 0, True),
    ("s3_server", 0, True),
]


def _ship(
    url: str,
    options: dict[str, Any],
    tmp_path: Path,
    monkeypatch: Any,
    contents: dict[str, bytes] | None = None,
) -> Any:
    spool = Spool(tmp_path / "outbox").prepare()
    if contents is None:
        contents = {f"part-{n}.bin": os.urandom(n * 70_000 + 17) for n in range(3)}
        assert [len(data) <= WHOLE for data in contents.values()] == [True, False, False]
    for name, data in contents.items():  # put there by another program: no receipt
        (spool.root / "new" / name).write_bytes(data)
    read_again: list[object] = []
    real = trail.sha256_of

    def counted(src: Any, size: int | None = None) -> str:
        read_again.append(src)
        return real(src, size)

    monkeypatch.setattr(trail, "sha256_of", counted)
    hashed = [0]
    fed = Tap._fed

    def counted_fed(tap: Tap, data: Any) -> None:
        hashed[0] += len(data)
        fed(tap, data)

    monkeypatch.setattr(Tap, "_fed", counted_fed)
    beside: list[int] = []
    add_span = Behind.add_span

    def counted_span(behind: Behind, fd: int, start: int, size: int) -> None:
        beside.append(size)
        add_span(behind, fd, start, size)

    monkeypatch.setattr(Behind, "add_span", counted_span)
    # What S3's requests are signed with: the SHA-256 of a body given by the tap.
    signed: list[str | None] = []
    sign = SigV4.sign

    def noted(signer: SigV4, method: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        if method == "PUT" and len(args) > 3 and args[3]:  # (host, path, headers, body)
            signed.append(kwargs.get("payload_hash"))
        return sign(signer, method, *args, **kwargs)

    monkeypatch.setattr(SigV4, "sign", noted)
    with Ledger.open(tmp_path / "state") as ledger:
        result = Runner(ledger).run(ShipJob(spool.root, url, target_options=options))
        assert result.ok, result.error
        journeys = by_file(find(ledger.engine, "part-*"))
    return contents, journeys, (len(read_again), len(beside)), hashed[0], signed


def _sizes(contents: dict[str, bytes], *, larger: bool) -> int:
    """The bytes of the small file, and of the larger ones if ``larger``."""
    return sum(len(data) for data in contents.values() if larger or len(data) <= WHOLE)


@pytest.mark.parametrize(("fixture", "reads", "larger"), SERVERS)
def test_the_checksum_is_the_servers_bytes_read_once_where_python_reads_them(
    fixture: str,
    reads: int,
    larger: bool,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    server = request.getfixturevalue(fixture)
    shipped = _ship(server.url, server.options, tmp_path, monkeypatch)
    contents, journeys, (read_again, read_beside), hashed, signed = shipped
    assert (read_again, read_beside) == (0, reads)
    assert hashed == _sizes(contents, larger=larger)
    if fixture == "s3_server":  # each body hashed once: the tap's hash signs its request
        assert sorted(map(str, signed)) == sorted(
            hashlib.sha256(data).hexdigest() for data in contents.values()
        )
    assert len(journeys) == len(contents)
    with server.open() as target:
        for (_, name), journey in journeys.items():
            (claimed,) = (e for e in journey if e.kind is Kind.CLAIMED)
            (delivered,) = (e for e in journey if e.kind is Kind.DELIVERED)
            copy = tmp_path / f"copy-{name}"
            target.download(name, copy)
            expected = "sha256:" + hashlib.sha256(copy.read_bytes()).hexdigest()
            assert copy.read_bytes() == contents[name]
            assert claimed.checksum == delivered.checksum == expected


def test_a_local_folder_s_copies_are_hashed_as_they_are_written(
    tmp_path: Path, monkeypatch: Any
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    contents, journeys, reads, hashed, _ = _ship(drop.as_uri(), {}, tmp_path, monkeypatch)
    assert (reads, hashed) == ((0, 0), _sizes(contents, larger=True))
    for (_, name), journey in journeys.items():
        (delivered,) = (e for e in journey if e.kind is Kind.DELIVERED)
        on_disk = (drop / name).read_bytes()
        assert on_disk == contents[name]
        assert delivered.checksum == "sha256:" + hashlib.sha256(on_disk).hexdigest()


def test_a_multipart_upload_to_s3_is_hashed_beside_it(
    s3_server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The S3 client reads a large file by its name, past the tap, in parts of its own:
    the file is read for its checksum beside the upload, not after it."""
    contents = {"part-big.bin": os.urandom(6 * 1024 * 1024 + 11)}
    options = {**s3_server.options, "multipart_threshold": 1024 * 1024}
    shipped = _ship(s3_server.url, options, tmp_path, monkeypatch, contents)
    _, journeys, (read_again, read_beside), hashed, _ = shipped
    assert (read_again, read_beside, hashed) == (0, 1, 0)
    (((_, name), journey),) = journeys.items()
    (delivered,) = (e for e in journey if e.kind is Kind.DELIVERED)
    copy = tmp_path / "copy.bin"
    with s3_server.open() as target:
        target.download(name, copy)
    assert copy.read_bytes() == contents[name]
    assert delivered.checksum == "sha256:" + hashlib.sha256(contents[name]).hexdigest()
