"""The spool's consumers: listing, claims and their leases, recovery."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from entrepot import durable
from entrepot.errors import ClaimLost, InvalidName
from entrepot.spool import Spool


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool").prepare()


def listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_list_is_oldest_first(spool: Spool) -> None:
    for name, age in (("c", 30), ("a", 10), ("b", 20)):
        spool.publish_bytes(name.encode(), name)
        stamp = time.time() - age
        os.utime(spool.root / "new" / name, (stamp, stamp))
    entries = spool.list()
    assert [entry.name for entry in entries] == ["c", "b", "a"]
    assert entries[0].size == 1 and entries[0].area == "new"


def test_list_hides_dot_files_and_folders(spool: Spool) -> None:
    (spool.root / "new" / ".hidden").write_text("x")
    (spool.root / "new" / "sub").mkdir()
    assert spool.list() == []


def test_claim_done_release_cycle(spool: Spool) -> None:
    spool.publish_bytes(b"1", "one")
    spool.publish_bytes(b"2", "two")
    first = spool.claim()
    assert first is not None and first.name == "one"
    assert first.path.read_bytes() == b"1"
    assert spool.names() == ["two"]
    assert first.done() == spool.root / "cur" / "one"
    second = spool.claim()
    assert second is not None
    second.release()
    assert spool.names() == ["two"]
    assert spool.claim("missing") is None


def test_claim_is_exclusive(spool: Spool) -> None:
    spool.publish_bytes(b"x", "only")
    assert spool.claim("only") is not None
    assert spool.claim("only") is None
    assert spool.claim() is None


def test_claim_context_releases_on_error(spool: Spool) -> None:
    spool.publish_bytes(b"x", "job")
    with pytest.raises(ValueError), spool.claim("job") as claim:  # type: ignore[union-attr]
        assert claim.path.exists()
        raise ValueError("processing failed")
    assert spool.names() == ["job"]


def test_done_into_other_area_and_name_conflicts_get_a_suffix(spool: Spool) -> None:
    for _ in range(3):
        spool.publish_bytes(b"daily", "daily.csv")
        claim = spool.claim("daily.csv")
        assert claim is not None
        claim.done("archive")
    assert spool.names("archive") == ["daily.csv", "daily.csv~2", "daily.csv~3"]


def test_claims_iterates_until_empty(spool: Spool) -> None:
    names = {spool.publish_bytes(b"%d" % n) for n in range(25)}
    seen = set()
    for claim in spool.claims():
        seen.add(claim.name)
        claim.done()
    assert seen == names
    assert spool.names() == []


def test_claims_limit(spool: Spool) -> None:
    for n in range(5):
        spool.publish_bytes(b"x", f"f{n}")
    assert len(list(spool.claims(limit=2))) == 2


def test_claim_by_id_round_trip(spool: Spool) -> None:
    spool.publish_bytes(b"x", "x")
    claim = spool.claim()
    assert claim is not None
    again = spool.claim_by_id(claim.id)
    assert again.name == "x" and again.path == claim.path
    again.done()
    with pytest.raises(ClaimLost):
        spool.claim_by_id(claim.id)
    with pytest.raises(InvalidName):
        spool.claim_by_id("../../etc/passwd")


def test_expired_claim_is_recovered_and_the_late_owner_loses(tmp_path: Path) -> None:
    now = [time.time()]
    spool = Spool(tmp_path / "s", lease=60, clock=lambda: now[0]).prepare()
    spool.publish_bytes(b"x", "slow")
    stuck = spool.claim()
    assert stuck is not None
    assert spool.recover().claims_released == []  # lease not over yet
    now[0] += 61
    assert spool.recover().claims_released == ["slow"]
    taker = spool.claim()
    assert taker is not None and taker.name == "slow"
    with pytest.raises(ClaimLost):
        stuck.done()
    taker.done()
    assert spool.names("cur") == ["slow"]


def test_renew_extends_the_lease(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", lease=3600).prepare()
    spool.publish_bytes(b"x", "f")
    claim = spool.claim()
    assert claim is not None
    before = claim.path.stat().st_ctime_ns
    time.sleep(0.01)
    claim.renew()
    assert claim.path.stat().st_ctime_ns > before
    claim.done()
    with pytest.raises(ClaimLost):
        claim.renew()


def test_recover_removes_only_stale_tmp_files(spool: Spool) -> None:
    old = spool.root / "tmp" / "old"
    old.write_text("abandoned")
    stamp = time.time() - 37 * 3600
    os.utime(old, (stamp, stamp))
    (spool.root / "tmp" / "fresh").write_text("being written")
    report = spool.recover()
    assert report.tmp_removed == ["old"]
    assert spool.names("tmp") == ["fresh"]


def test_recover_removes_leftover_of_a_half_done_link_publish(spool: Spool) -> None:
    leftover = spool.root / "tmp" / "leftover"
    leftover.write_text("complete")
    os.link(leftover, spool.root / "new" / "published")
    assert spool.recover().tmp_removed == ["leftover"]
    assert spool.names() == ["published"]


def test_rename_noreplace_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "_noreplace_supported", False)
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(FileExistsError):
        durable.rename_noreplace(tmp_path / "a", tmp_path / "b")
    durable.rename_noreplace(tmp_path / "a", tmp_path / "c")
    assert listing(tmp_path) == ["b", "c"]


def test_claims_of_a_dead_local_consumer_come_back_before_the_lease(tmp_path: Path) -> None:
    import subprocess
    import sys

    spool = Spool(tmp_path / "s").prepare()  # default lease: 15 minutes
    spool.publish_bytes(b"x", "orphan")
    spool.publish_bytes(b"y", "mine")
    code = (
        "import sys; from entrepot.spool import Spool; "
        "c = Spool(sys.argv[1]).claim('orphan'); print(c.id)"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(spool.root)], capture_output=True, text=True, check=True
    )
    assert spool.claim_by_id(child.stdout.strip()).name == "orphan"  # still held
    mine = spool.claim("mine")
    assert mine is not None
    report = spool.recover()
    # The child has exited: its claim returns; ours, held by a live process, stays.
    assert report.claims_released == ["orphan"]
    assert spool.names() == ["orphan"]
    mine.done()
