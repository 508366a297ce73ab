"""A spool area that is a symbolic link is refused, never worked through.

Only the last part of a path was protected (``O_NOFOLLOW``): with ``tmp/``
a link to another folder, ``recover()`` made its clock probe there and
deleted every file older than 36 hours in that folder — data outside the
spool — and ``entrepot spool recover`` exited 0.  A ``new/``, ``claimed/``
or ``cur/`` that was a link let claims take files from outside the spool,
or move them out of it.

Now an area that is a link is a :class:`~entrepot.errors.SpoolLayoutError`
("is a symbolic link: refused", as the FileStore facade says it), for
``prepare()``, listing, counting, recovery, claims and their ends; nothing
is read, made, moved or deleted in the link's target.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from entrepot.errors import SpoolLayoutError
from entrepot.spool import Spool
from tests.hostile._shipping import entrepot

REFUSED = "symbolic link: refused"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "sp").prepare()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the spool, with an old file of its own."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    precious = folder / "precious.dat"
    precious.write_text("keep me")
    os.utime(precious, (0, 0))
    return folder


def swap_for_link(spool: Spool, area: str, target: Path) -> None:
    shutil.rmtree(spool.area(area), ignore_errors=True)
    spool.area(area).symlink_to(target)


def test_recover_refuses_a_tmp_that_is_a_link(spool: Spool, elsewhere: Path) -> None:
    swap_for_link(spool, "tmp", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.recover()
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_the_recover_command_exits_with_a_layout_error(spool: Spool, elsewhere: Path) -> None:
    swap_for_link(spool, "tmp", elsewhere)
    done = entrepot("spool", "recover", spool.root)
    assert done.returncode == 3, done.stderr
    assert "symbolic link" in done.stderr
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_recover_refuses_a_claimed_area_that_is_a_link(spool: Spool, elsewhere: Path) -> None:
    (elsewhere / "0000000000000001-x.csv").write_text("not the spool's")
    swap_for_link(spool, "claimed", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.recover(lease=0)
    assert spool.names("new") == []
    assert sorted(os.listdir(elsewhere)) == ["0000000000000001-x.csv", "precious.dat"]


def test_a_new_area_that_is_a_link_is_neither_listed_nor_claimed(
    spool: Spool, elsewhere: Path
) -> None:
    swap_for_link(spool, "new", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.names()
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.stats()
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.claim("precious.dat")
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_a_claim_is_not_taken_into_a_claimed_area_that_is_a_link(
    spool: Spool, elsewhere: Path
) -> None:
    spool.publish_bytes(b"x", "a.csv")
    swap_for_link(spool, "claimed", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.claim("a.csv")
    assert spool.names() == ["a.csv"]
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_a_claim_is_not_finished_into_a_cur_that_is_a_link(spool: Spool, elsewhere: Path) -> None:
    spool.publish_bytes(b"x", "a.csv")
    claim = spool.claim("a.csv")
    assert claim is not None
    swap_for_link(spool, "cur", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        claim.done()
    assert claim.path.exists()
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_prepare_refuses_an_area_that_is_a_link(spool: Spool, elsewhere: Path) -> None:
    swap_for_link(spool, "cur", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        Spool(spool.root).prepare()


def test_publishing_into_a_new_that_is_a_link_is_refused(spool: Spool, elsewhere: Path) -> None:
    swap_for_link(spool, "new", elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        spool.publish_bytes(b"x", "a.csv")
    assert os.listdir(elsewhere) == ["precious.dat"]


def test_a_held_claim_is_not_read_or_removed_through_a_claimed_area_that_became_a_link(
    spool: Spool, elsewhere: Path
) -> None:
    spool.publish_bytes(b"x", "a.csv")
    claim = spool.claim("a.csv")
    assert claim is not None
    (elsewhere / claim.id).write_text("not the spool's")
    spool.area("claimed").rename(spool.root / "moved-away")
    spool.area("claimed").symlink_to(elsewhere)
    with pytest.raises(SpoolLayoutError, match=REFUSED):
        claim.open().close()
    for act in (claim.remove, claim.renew, claim.release):
        with pytest.raises(SpoolLayoutError, match=REFUSED):
            act()
    assert sorted(os.listdir(elsewhere)) == [claim.id, "precious.dat"]
