"""The spool against symbolic links, hostile names and careless commands, in a subprocess.

Issue 10 items covered here:

* 10a — an entry of ``new/`` swapped for a symbolic link (to ``/etc/shadow``,
  say) is never read or shipped: ``spool claim --name`` refuses a link
  (exit 6), a link or a FIFO is never opened as a spool file, and ``spool
  put`` (also ``--link``) and batches refuse a source that is a link;
* 12 — names with rich markup or escape sequences are printed as written:
  ``in[reverse]voice.csv`` stays visible, a ``[/]`` in a path does not crash;
* 16 — ``spool put typo-spool f`` does not create a spool (``--create``
  does), ``spool stats``/``ls``/``claim``/``recover`` on a missing spool
  exit 4; ``-q`` prints nothing but errors; ``--json`` on ``ls`` and ``stats``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from entrepot.errors import UnsafeEntry
from entrepot.spool import Spool
from tests.hostile._shipping import entrepot


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "outbox").prepare()


@pytest.fixture
def shadow(tmp_path: Path) -> Path:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRET-HASH:19000:0:99999:7:::\n")
    return secret


# -- 10a: links are never followed ------------------------------------------------------------


def test_claim_by_name_refuses_a_link(spool: Spool, shadow: Path) -> None:
    (spool.root / "new" / "x.csv").symlink_to(shadow)
    done = entrepot("spool", "claim", spool.root, "--name", "x.csv")
    assert done.returncode == 6, done.stderr
    assert "not a regular file" in done.stderr and "SECRET" not in done.stdout + done.stderr
    assert os.path.islink(spool.root / "new" / "x.csv")
    assert os.listdir(spool.root / "claimed") == []


def test_the_oldest_first_claim_skips_a_link_swapped_in(spool: Spool, shadow: Path) -> None:
    spool.publish_bytes(b"first", "a.csv")
    spool.publish_bytes(b"second", "b.csv")
    names = spool.names()
    (spool.root / "new" / names[0]).unlink()
    (spool.root / "new" / names[0]).symlink_to(shadow)
    claims = list(spool.claims())
    assert [claim.name for claim in claims] == ["b.csv"]
    assert os.path.islink(spool.root / "new" / "a.csv")


def test_a_fifo_is_refused_without_blocking(spool: Spool) -> None:
    os.mkfifo(spool.root / "new" / "pipe.csv")
    with pytest.raises(UnsafeEntry):
        spool.claim("pipe.csv")
    spool.publish_bytes(b"ok", "ok.csv")
    claim = spool.claim("ok.csv")
    assert claim is not None
    claim.path.unlink()
    os.mkfifo(claim.path)  # swapped after the claim: opening it must not hang
    with pytest.raises(UnsafeEntry):
        claim.open()


def test_put_refuses_a_source_that_is_a_link(spool: Spool, shadow: Path, tmp_path: Path) -> None:
    link = tmp_path / "export.csv"
    link.symlink_to(shadow)
    for extra in ([], ["--link"]):
        done = entrepot("spool", "put", spool.root, link, *extra)
        assert done.returncode == 6, done.stderr
        assert "symbolic link" in done.stderr or "not a regular file" in done.stderr
    assert os.listdir(spool.root / "new") == [] and os.listdir(spool.root / "tmp") == []
    with pytest.raises(UnsafeEntry), spool.batch() as batch:
        batch.add_bytes(b"fine", "fine.csv")
        batch.add_file(link)
    assert spool.names() == [] and os.listdir(spool.root / "tmp") == []


# -- 12: names are shown as written -----------------------------------------------------------


def test_names_with_markup_and_escapes_are_printed_as_written(spool: Spool, tmp_path: Path) -> None:
    source = tmp_path / "f.csv"
    source.write_text("x")
    names = ("in[reverse]voice.csv", "[bold red]x.csv", "[@click]y.csv")
    for name in names:
        put = entrepot("spool", "put", spool.root, source, "--name", name)
        assert put.returncode == 0, put.stderr
        assert put.stdout.strip() == name
    listing = entrepot("spool", "ls", spool.root)
    assert listing.returncode == 0, listing.stderr
    for name in names:
        assert name in listing.stdout
    claimed = entrepot("spool", "claim", spool.root, "--name", "[bold red]x.csv")
    assert claimed.returncode == 0 and "-[bold red]x.csv" in claimed.stdout
    # A "[/]" can only be in a path: the spool's own folder.
    nested = tmp_path / "x[" / "]y"
    Spool(nested).prepare()
    stats = entrepot("spool", "stats", nested)
    assert stats.returncode == 0 and "x[/]y" in stats.stdout
    # A folder name carrying an escape sequence is shown escaped, never sent raw.
    odd = tmp_path / "out\x1b[2Jbox"
    Spool(odd).prepare()
    stats = entrepot("spool", "stats", odd)
    assert stats.returncode == 0 and "\x1b" not in stats.stdout and "\\x1b[2J" in stats.stdout


# -- 16: no spool is made by mistake ---------------------------------------------------------


def test_a_typo_never_makes_a_spool(tmp_path: Path) -> None:
    source = tmp_path / "f.csv"
    source.write_text("x")
    typo = tmp_path / "outbx"
    put = entrepot("spool", "put", typo, source)
    assert put.returncode == 4 and "spool init" in put.stderr
    assert not typo.exists()
    for command in (["stats"], ["ls"], ["claim"], ["recover"]):
        done = entrepot("spool", *command, typo)
        assert done.returncode == 4, (command, done.stderr)
    assert not typo.exists()
    created = entrepot("spool", "put", typo, source, "--create")
    assert created.returncode == 0 and Spool(typo).names() == ["f.csv"]
    # A file where the spool should be: a mistake of the path (3), the file left whole.
    made = entrepot("spool", "init", source)
    assert made.returncode == 3 and "a file is in the way" in made.stderr
    assert source.read_text() == "x"


def test_quiet_prints_only_errors_and_json_is_asked_for(spool: Spool, tmp_path: Path) -> None:
    source = tmp_path / "f.csv"
    source.write_text("abc")
    put = entrepot("-q", "spool", "put", spool.root, source)
    assert (put.returncode, put.stdout, put.stderr) == (0, "", "")
    for command in (["ls"], ["stats"], ["recover"]):
        quiet = entrepot("-q", "spool", *command, spool.root)
        assert (quiet.returncode, quiet.stdout) == (0, ""), command
    [entry] = json.loads(entrepot("-q", "spool", "ls", spool.root, "--json").stdout)
    assert (entry["name"], entry["size"]) == ("f.csv", 3)
    stats = json.loads(entrepot("spool", "stats", spool.root, "--json").stdout)
    assert stats["new"] == {"files": 1, "bytes": 3}
    failed = entrepot("-q", "spool", "put", spool.root, source)
    assert failed.returncode == 1 and failed.stdout == "" and "already exists" in failed.stderr
