"""FTP listings are split into entries at line ends only: ``CRLF``, or a bare ``LF``.

They were split wherever :meth:`str.splitlines` splits — at ``\\r``, U+2028,
U+2029, U+0085, ``\\x0b``, ``\\x1c``…  On a real server a file named
``report\\u2028final.csv`` was listed as ``report``, and one named
``x\\rtype=file;size=999;…; ghost.csv`` as ``x`` *plus* a forged entry
``ghost.csv`` of 999 bytes: whoever may create a file in a shared folder
could forge entries in the listing, and ``fetch`` reported the real files as
vanished.  Now every such file is listed under its whole name with its
size — by ``MLSD`` and by ``LIST -a`` — and ``fetch`` takes those a spool
may hold and skips the others by their whole names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets import open_target, remote_name_problem
from tests.hostile._targets import entrepot
from tests.servers.ftp import PASSWORD, USER, FTPServer

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]

FORGED = "x\rtype=file;size=999;modify=20240101000000; ghost.csv"
#: Each name holds a character str.splitlines() takes for a line end.
NAMES = {
    "real.csv": b"real\n",
    "report\u2028final.csv": b"report\n",
    FORGED: b"hidden",
    "a\x85b.csv": b"c1\n",
    "p\u2029q.csv": b"para\n",
    "v\x0bt.csv": b"vt\n",
    "f\x1cs.csv": b"fs\n",
}


def _fill(folder: Path) -> None:
    for name, data in NAMES.items():
        (folder / name).write_bytes(data)


def _listed(url: str, **options: Any) -> list[tuple[str, int]]:
    with open_target(url, **{"timeout": 30, **options}) as target:
        return sorted((entry.name, entry.size) for entry in target.list())


EXPECTED = sorted((name, len(data)) for name, data in NAMES.items())


@pytest.fixture
def list_only_ftp(tmp_path: Path) -> Iterator[FTPServer]:
    """pyftpdlib without ``MLSD``/``MLST``: listings come from ``LIST -a``."""
    pytest.importorskip("pyftpdlib")
    (tmp_path / "root" / "drop").mkdir(parents=True)
    server = FTPServer(tmp_path / "root", mlsd=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("fixture", ["ftp_server", "ftps_server"])
def test_mlsd_lists_every_name_whole(fixture: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(fixture)
    _fill(server.root)
    assert _listed(server.url, **server.options) == EXPECTED


def test_list_lists_every_name_whole(list_only_ftp: FTPServer) -> None:
    _fill(list_only_ftp.root / "drop")
    url = f"ftp://{USER}@127.0.0.1:{list_only_ftp.port}/drop"
    assert _listed(url, password=PASSWORD) == EXPECTED


def test_fetch_takes_or_skips_each_file_by_its_whole_name(ftp_server: Any, tmp_path: Path) -> None:
    _fill(ftp_server.root)
    spool = tmp_path / "inbox"
    done = entrepot(
        "fetch", ftp_server.url, spool, "--create", "--no-ledger", "--json",
        "--password-env", "FTP_PW", env={"FTP_PW": ftp_server.password},
    )  # fmt: skip
    result = json.loads(done.stdout)
    fetchable = {name for name in NAMES if remote_name_problem(name) is None}
    assert "real.csv" in fetchable and FORGED not in fetchable
    assert set(result["skipped"]) == set(NAMES) - fetchable, done.stderr
    assert not any("vanished" in why or "not found" in why for why in result["skipped"].values())
    fetched = {path.name: path.read_bytes() for path in (spool / "new").iterdir()}
    assert fetched == {name: NAMES[name] for name in fetchable}
