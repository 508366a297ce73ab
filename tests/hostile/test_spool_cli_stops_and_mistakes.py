"""Spool commands stopped half-way, or given something that is not there.

* ``spool put`` stopped by SIGTERM prints (and records the receipt of)
  every file it published: the names printed are exactly the files in
  ``new/``, so a re-run with the rest is never refused as "already there".
* ``spool ls --area`` of an area the spool has not is a usage error (exit 2),
  not an empty table; ``spool done``/``release`` of a claim that is not held
  is "not found" (exit 4); ``spool put --link`` of a symbolic link says so.
* ``ship --remote-name`` with a template that can never make a remote name
  (``/abs/{name}``, ``../{name}``, ``a//{name}``) is a bad option (exit 3)
  that says why.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.spool import Spool
from tests.hostile._targets import ROOT, entrepot

# -- stopped by SIGTERM -----------------------------------------------------------------------


def _received(state: Path, spool: Path) -> set[str]:
    """The names the receipts file of ``state`` says were received into ``spool``."""
    names = set()
    for line in (state / "provenance" / "receipts.shared").read_text().splitlines():
        if line.strip():
            for event in json.loads(line)[1]:
                if event[1] == "received" and event[2] == str(spool):
                    names.add(event[3])
    return names


@pytest.mark.timeout(240)
@pytest.mark.parametrize("printed_first", [10, 40, 100, 200, 300, 450])
def test_put_stopped_by_sigterm_prints_every_file_it_published(
    tmp_path: Path, printed_first: int
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    files = [sources / f"g{n:04d}" for n in range(1500)]
    for file in files:
        file.write_text(f"{file.name}\n")
    spool = Spool(tmp_path / "sp").prepare()
    state = tmp_path / "state"
    state.mkdir()
    printed = tmp_path / "put.out"
    command = [sys.executable, "-m", "entrepot", "spool", "put", spool.root, *files]
    with open(printed, "wb") as out:
        child = subprocess.Popen(
            [*command, "--state", state], stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        deadline = time.monotonic() + 120
        while printed.read_bytes().count(b"\n") < printed_first and child.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 143
    names = printed.read_text().split()
    assert len(names) < len(files), "stopped too late to tell anything"
    assert sorted(names) == spool.names("new") == sorted(_received(state, spool.root))


# -- what is not there --------------------------------------------------------------------------


def test_listing_an_area_the_spool_has_not_is_a_usage_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "sp").prepare()
    done = entrepot("spool", "ls", spool.root, "--area", "nope")
    assert done.returncode == 2, done.stderr
    assert "no area 'nope'" in done.stderr and "cur, new, tmp" in done.stderr
    # The areas every spool has, and those made since, are listed even when empty.
    (spool.root / "archive").mkdir()
    for area in ("claimed", "cur", "archive"):
        done = entrepot("spool", "ls", spool.root, "--area", area)
        assert done.returncode == 0, done.stderr


def test_a_claim_that_is_not_held_is_not_found(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "sp").prepare()
    spool.publish_bytes(b"x", "a.csv")
    claim = spool.claim()
    assert claim is not None
    claim.done()
    for command in ("done", "release"):
        done = entrepot("spool", command, spool.root, claim.id)
        assert done.returncode == 4, done.stderr
        assert "is not held" in done.stderr
    assert spool.names("cur") == ["a.csv"]


def test_put_link_of_a_symbolic_link_says_it_is_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "sp").prepare()
    (tmp_path / "real.csv").write_text("x\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    done = entrepot("spool", "put", spool.root, tmp_path / "link.csv", "--link")
    assert done.returncode == 6, done.stderr
    assert "is a symbolic link" in done.stderr
    assert spool.names("new") == [] and list((spool.root / "tmp").iterdir()) == []


# -- remote names that can never be made -----------------------------------------------------


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("/abs/{name}", "drop the leading '/'"),
        ("../{name}", "refers to a folder"),
        ("a//{name}", "an empty folder name"),
        ("{name}/", "an empty folder name"),
    ],
)
def test_a_remote_name_template_that_makes_no_name_says_why(
    tmp_path: Path, template: str, said: str
) -> None:
    spool = Spool(tmp_path / "sp").prepare()
    spool.publish_bytes(b"x", "a.csv")
    (tmp_path / "remote").mkdir()
    url = (tmp_path / "remote").as_uri()
    done = entrepot("ship", spool.root, url, "--remote-name", template, "--no-ledger")
    assert done.returncode == 3, done.stderr
    assert said in done.stderr and "is empty" not in done.stderr
    assert spool.names("new") == ["a.csv"]
