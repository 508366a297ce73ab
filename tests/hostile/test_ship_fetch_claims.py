"""Fetching under claims from a folder many sources write into (issue 16, edge → central).

Local names are remote paths with ``~`` for ``/``: a remote name holding a
``~`` of its own could become another file's local name, so it is refused
(skipped, reported, left in place).  A file already in ``new/`` under the
local name is taken for the one being fetched only if it holds the same
bytes — not merely the same size — otherwise the file is deferred (not a
failure: the run succeeds), its claim let go and the remote copy kept.
"""

from __future__ import annotations

from pathlib import Path

from entrepot.jobs import Ledger
from entrepot.ship import Fetcher, ShipOptions
from entrepot.ship.claimed import FetchClaims, source_identity
from entrepot.spool import Spool


def _fetcher(tmp_path: Path, ledger: Ledger) -> Fetcher:
    spool = Spool(tmp_path / "inbox").prepare()
    fetcher = Fetcher(spool, str(tmp_path / "remote"), options=ShipOptions(claims=True))
    fetcher.claims = FetchClaims(ledger, source_identity(fetcher), "central-1")
    return fetcher


def test_a_tilde_in_a_remote_name_is_refused_not_merged(tmp_path: Path) -> None:
    (tmp_path / "remote" / "a").mkdir(parents=True)
    (tmp_path / "remote" / "a" / "b.csv").write_text("one\n")
    (tmp_path / "remote" / "a~b.csv").write_text("two\n")
    with Ledger.open(tmp_path / "state") as ledger:
        report = _fetcher(tmp_path, ledger).run()
    assert report.done == ["a/b.csv"] and list(report.skipped) == ["a~b.csv"]
    assert (tmp_path / "inbox/new/a~b.csv").read_text() == "one\n"
    assert (tmp_path / "remote" / "a~b.csv").read_text() == "two\n"


def test_a_local_file_of_the_same_size_but_other_bytes_is_not_taken_for_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "remote" / "e").mkdir(parents=True)
    (tmp_path / "remote" / "e" / "x.csv").write_text("remote\n")
    with Ledger.open(tmp_path / "state") as ledger:
        fetcher = _fetcher(tmp_path, ledger)
        fetcher.spool.publish_bytes(b"local!\n", "e~x.csv")
        report = fetcher.run()
        assert report.ok and report.done == [] and list(fetcher.deferred) == ["e/x.csv"]
        assert fetcher.claims is not None
        again = fetcher.claims.take(fetcher.survey(fetcher.connect())[0][0])
        fetcher.disconnect()
    assert again is not None  # the failed fetch let its claim go
    assert (tmp_path / "remote" / "e" / "x.csv").read_text() == "remote\n"
    assert (tmp_path / "inbox/new/e~x.csv").read_bytes() == b"local!\n"
