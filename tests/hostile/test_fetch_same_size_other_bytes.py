"""A fetch whose file name already waits in ``new/`` with other bytes of the same size.

What was wrong: without claims (the default), a fetch compared only the sizes of the
file it had downloaded and of the one waiting in ``new/`` under the same name.  Two
files of the same size counted as one — the copy an earlier run had published before
it died — so the remote file was deleted (or moved by ``remote_after``), the run said
``ok`` and exited 0, and the new content existed nowhere: yesterday's ``report.csv``
still waited in ``new/``, today's, of the same size, was gone.

What is expected now: with or without claims, the remote copy is deleted or moved
only when the file waiting holds the same bytes.  A file of other bytes is deferred —
left remote, the run a success (exit 0), the file waiting untouched — and fetched
once the one waiting has gone on.  A link or a FIFO under that name is never taken
for the file (nor read through, nor waited on): the file is deferred too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.jobs import Ledger
from entrepot.ship import Fetcher, ShipOptions
from entrepot.ship.claimed import FetchClaims, source_identity
from entrepot.ship.route import Report
from entrepot.spool import Spool
from tests.hostile._shipping import entrepot

YESTERDAY, TODAY = b"day1,100\n", b"day2,200\n"
CLAIMS = pytest.mark.parametrize("claims", [False, True], ids=["no-claims", "claims"])


def _fetch(tmp_path: Path, claims: bool, **options: str) -> tuple[Fetcher, Report]:
    fetcher = Fetcher(
        Spool(tmp_path / "inbox").prepare(),
        str(tmp_path / "remote"),
        options=ShipOptions(claims=claims, **options),
    )
    if not claims:
        return fetcher, fetcher.run()
    with Ledger.open(tmp_path / "state") as ledger:
        fetcher.claims = FetchClaims(ledger, source_identity(fetcher), "central-1")
        return fetcher, fetcher.run()


def _setup(tmp_path: Path) -> Spool:
    spool = Spool(tmp_path / "inbox").prepare()
    spool.publish_bytes(YESTERDAY, "report.csv")  # not shipped yet
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "report.csv").write_bytes(TODAY)  # the same size
    return spool


@CLAIMS
def test_a_remote_file_of_the_same_size_and_other_bytes_is_deferred_not_deleted(
    tmp_path: Path, claims: bool
) -> None:
    spool = _setup(tmp_path)
    fetcher, report = _fetch(tmp_path, claims)
    assert report.ok and report.done == []
    assert list(fetcher.deferred) == ["report.csv"]
    assert (tmp_path / "remote" / "report.csv").read_bytes() == TODAY
    assert spool.path("new", "report.csv").read_bytes() == YESTERDAY
    assert os.listdir(spool.root / "tmp") in ([], ["landing"])  # no download left behind
    # Yesterday's file has gone on: today's comes in.
    os.unlink(spool.path("new", "report.csv"))
    fetcher, report = _fetch(tmp_path, claims)
    assert report.done == ["report.csv"]
    assert spool.path("new", "report.csv").read_bytes() == TODAY
    assert os.listdir(tmp_path / "remote") == []


def test_remote_after_does_not_move_a_file_whose_bytes_never_landed(tmp_path: Path) -> None:
    spool = _setup(tmp_path)
    fetcher, report = _fetch(tmp_path, False, remote_after="done")
    assert report.ok and list(fetcher.deferred) == ["report.csv"]
    assert os.listdir(tmp_path / "remote") == ["report.csv"]
    assert spool.path("new", "report.csv").read_bytes() == YESTERDAY


@CLAIMS
def test_the_copy_an_earlier_run_published_is_recognised_and_the_remote_one_removed(
    tmp_path: Path, claims: bool
) -> None:
    """The same bytes waiting (a run died between its publish and the remote delete)."""
    spool = Spool(tmp_path / "inbox").prepare()
    spool.publish_bytes(TODAY, "report.csv")
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "report.csv").write_bytes(TODAY)
    fetcher, report = _fetch(tmp_path, claims)
    assert report.done == ["report.csv"] and fetcher.deferred == {}
    assert os.listdir(tmp_path / "remote") == []
    assert os.listdir(spool.root / "new") == ["report.csv"]


@CLAIMS
@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_a_link_or_a_fifo_under_the_name_is_never_taken_for_the_file(
    tmp_path: Path, claims: bool, kind: str
) -> None:
    """A link to a file of the very bytes fetched is not the file: nothing would ship it."""
    spool = Spool(tmp_path / "inbox").prepare()
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "report.csv").write_bytes(TODAY)
    there = spool.path("new", "report.csv")
    if kind == "link":
        (tmp_path / "elsewhere.csv").write_bytes(TODAY)
        os.symlink(tmp_path / "elsewhere.csv", there)
    else:
        os.mkfifo(there)
    fetcher, report = _fetch(tmp_path, claims)
    assert report.ok and list(fetcher.deferred) == ["report.csv"]
    assert (tmp_path / "remote" / "report.csv").read_bytes() == TODAY


def test_the_command_defers_the_file_and_exits_0(tmp_path: Path) -> None:
    spool = _setup(tmp_path)
    done = entrepot("fetch", f"file://{tmp_path / 'remote'}", spool.root, "--no-ledger")
    assert done.returncode == 0, done.stderr
    assert "deferred" in done.stdout
    assert (tmp_path / "remote" / "report.csv").read_bytes() == TODAY
    assert spool.path("new", "report.csv").read_bytes() == YESTERDAY
