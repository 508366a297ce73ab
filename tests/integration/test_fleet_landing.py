"""A central fetcher killed with SIGKILL between publishing a file and marking its claim
done (issue 16: each object fetched once across the fleet), with real SeaweedFS and
PostgreSQL and real processes — each killed by itself at the exact point
(``tests/integration/_die_at.py``):

* on separate spools (hosts), the claim is in doubt: never fetched again by
  another instance, shown by ``entrepot fetch --claims``, settled by its holder
  when it starts again — even once a consumer took the file on from ``new/``;
* killed before the rename: its holder fetches it again, once;
* another instance fetching into the same spool settles it as the holder would;
* an operator settles a claim in doubt with ``--finish`` / ``--release``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger
from entrepot.ship.claimed import KIND
from entrepot.spool import Spool
from tests.integration._fleet_s3 import fetcher, finished, put_objects

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

NAME = "edge-1/orders/2025/12/05/a.csv"
LOCAL = "edge-1~orders~2025~12~05~a.csv"
LEASE = ("--claim-lease", "1s")


def _spool(path: Path) -> Path:
    return Spool(path).prepare().root


def _new(spool: Path) -> set[str]:
    return set(os.listdir(spool / "new"))


def _killed_after(point: str, folder: Any, ledger: str, spool: Path) -> None:
    """Instance central-1 fetches the one object into ``spool`` and dies at ``point``;
    then its claim's lease runs out."""
    put_objects(folder, [NAME])
    victim = fetcher(folder, "central-1", spool, ledger, *LEASE, die_at=point)
    assert finished(victim) == -signal.SIGKILL
    time.sleep(1.5)


def _claim(ledger: str) -> Any:
    with Ledger(ledger) as book, book.engine.connect() as conn:
        done = conn.exec_driver_sql(
            "SELECT count(*) FROM entrepot_claims WHERE done_at IS NOT NULL"
        )
        return book.claims_in_doubt(KIND), done.scalar()


def test_a_file_landed_on_another_host_is_never_fetched_again_and_its_holder_settles_it(
    s3_server: Any, postgres_url: str, tmp_path: Path, cli: Any
) -> None:
    one, two = _spool(tmp_path / "central-1"), _spool(tmp_path / "central-2")
    _killed_after("landed", s3_server, postgres_url, one)
    assert _new(one) == {LOCAL}
    other = fetcher(s3_server, "central-2", two, postgres_url, *LEASE, "--json")
    out, _ = other.communicate(timeout=300)
    assert other.returncode == 0
    assert _new(two) == set()  # not fetched a second time
    assert s3_server.keys() == [NAME]  # nor deleted: the holder's spool decides
    doubt = json.loads(out)["in_doubt"]
    assert [(d["name"], d["holder"], d["local"]) for d in doubt] == [(NAME, "central-1", LOCAL)]
    code, shown, _ = cli("status", "--fleet", "--ledger", postgres_url, "--json")
    assert code == 1  # needs attention
    assert [(d["name"], d["holder"]) for d in json.loads(shown)["in_doubt"]] == [
        (NAME, "central-1")
    ]
    # A consumer takes the file on from new/ before central-1 starts again.
    os.unlink(one / "new" / LOCAL)
    assert finished(fetcher(s3_server, "central-1", one, postgres_url, *LEASE)) == 0
    assert _new(one) == set()  # it landed once: not fetched again
    assert s3_server.keys() == []
    assert _claim(postgres_url) == ([], 1)
    assert os.listdir(one / "tmp" / "landing") == []


def test_a_file_not_yet_renamed_is_fetched_again_by_its_holder_once(
    s3_server: Any, postgres_url: str, tmp_path: Path
) -> None:
    one, two = _spool(tmp_path / "central-1"), _spool(tmp_path / "central-2")
    _killed_after("landing", s3_server, postgres_url, one)
    assert _new(one) == set()
    assert finished(fetcher(s3_server, "central-2", two, postgres_url, *LEASE)) == 0
    assert _new(two) == set() and s3_server.keys() == [NAME]
    assert finished(fetcher(s3_server, "central-1", one, postgres_url, *LEASE)) == 0
    assert _new(one) == {LOCAL} and _new(two) == set()
    assert s3_server.keys() == []
    assert (one / "new" / LOCAL).read_bytes() == f"{NAME}\n".encode()
    assert os.listdir(one / "tmp" / "landing") == []


@pytest.mark.parametrize("point", ["landing", "landed"])
def test_on_a_shared_spool_another_instance_settles_a_claim_in_doubt(
    s3_server: Any, postgres_url: str, tmp_path: Path, point: str
) -> None:
    shared = _spool(tmp_path / "shared")
    _killed_after(point, s3_server, postgres_url, shared)
    assert finished(fetcher(s3_server, "central-2", shared, postgres_url, *LEASE)) == 0
    assert _new(shared) == {LOCAL}  # landed: kept; not yet: fetched again — once
    assert s3_server.keys() == []
    assert _claim(postgres_url) == ([], 1)
    assert os.listdir(shared / "tmp" / "landing") == []


@pytest.mark.parametrize("answer", ["--finish", "--release"])
def test_an_operator_settles_a_claim_in_doubt(
    s3_server: Any, postgres_url: str, tmp_path: Path, answer: str
) -> None:
    one, two = _spool(tmp_path / "central-1"), _spool(tmp_path / "central-2")
    _killed_after("landed", s3_server, postgres_url, one)
    by_hand = fetcher(s3_server, "central-2", two, postgres_url, answer, NAME)
    assert finished(by_hand) == 0
    again = fetcher(s3_server, "central-2", two, postgres_url, answer, NAME)
    assert finished(again) == 4  # settled already: no claim in doubt on it
    assert finished(fetcher(s3_server, "central-2", two, postgres_url, *LEASE)) == 0
    assert s3_server.keys() == []
    # Finished: the object is deleted, not fetched; released: fetched again.
    assert _new(two) == (set() if answer == "--finish" else {LOCAL})
