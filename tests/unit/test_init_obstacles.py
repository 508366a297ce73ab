"""``entrepot init`` when something is in the way, or the folder's name is not UTF-8.

What was wrong: with a file (or a link to nothing) named ``delivered``
beside the target, ``init`` wrote the configuration first, then failed to
make the folder and said "<config> exists: not overwritten" of the file it
had just written — which stayed behind.  In a folder whose name is not
UTF-8 it wrote a configuration that ``validate`` accepted but on which
``ship`` and ``status`` crashed (the route's identity could not be
computed).

What is expected now: everything in the way is looked for before anything
is written, named in the error (exit 3), and nothing is left behind; a
folder whose name is not UTF-8 is refused the same way; and a route's
identity is computed from a path's own bytes, so that a configuration
written by hand in such a folder does not crash ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from entrepot.ship import Shipper


@pytest.mark.parametrize(
    ("obstacle", "kind"),
    [
        ("delivered", "a file"),
        ("outbox", "a file"),
        ("outbox/new", "a file"),
        ("delivered@", "a link to nothing"),
        ("outbox@", "a link to nothing"),
    ],
)
def test_what_is_in_the_way_is_named_and_nothing_is_written(
    tmp_path: Path, cli: Any, obstacle: str, kind: str
) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    name = obstacle.rstrip("@")
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    if obstacle.endswith("@"):
        (folder / name).symlink_to(folder / "nowhere")
    else:
        (folder / name).touch()
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    code, _, err = cli("init", folder / "e.toml")
    assert code == 3
    assert f"cannot make the folder {folder / name}: {kind} is in the way" in " ".join(err.split())
    assert "exists: not overwritten" not in err
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_an_existing_configuration_is_still_refused_as_existing(tmp_path: Path, cli: Any) -> None:
    assert cli("init", tmp_path / "e.toml")[0] == 0
    code, _, err = cli("init", tmp_path / "e.toml")
    assert code == 3 and "exists: not overwritten" in err


def test_a_folder_whose_name_is_not_utf8_is_refused(tmp_path: Path, cli: Any) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff"))
    code, _, err = cli("init", folder / "e.toml")
    assert code == 3
    assert "not UTF-8" in err
    assert not os.path.lexists(folder)


def test_a_route_identity_takes_a_path_that_is_not_utf8_as_its_bytes(tmp_path: Path) -> None:
    spool = Path(os.fsdecode(os.fsencode(tmp_path) + b"/out\xff"))
    target = (tmp_path / "to").as_uri()
    identity = Shipper(spool, target).identity  # no UnicodeEncodeError
    assert len(identity) == 64
    assert identity != Shipper(tmp_path / "out", target).identity
    # A UTF-8 path keeps the identity it always had: routes' jobs are still found.
    assert Shipper("/srv/outé", "file:///srv/to").identity == (
        "a896892650f002214d96988e137559135aff406bdf33a2281af96f91e9da1b64"
    )
