"""``trace`` of a name that holds a glob's characters, and of a route that is not there.

* A file may be called ``report[1].csv``: as a glob that matches only
  ``report1.csv``, so ``trace 'report[1].csv'`` said "not found" for a file
  the ledger holds.  A pattern now also finds the name it spells.
* ``trace NAME --route nosuch`` said only "no trace of NAME": with no
  configuration, ``nosuch`` is read as a spool folder, and the message now
  says which, and that it is not there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from entrepot.cli.exitcodes import ExitCode
from tests.hostile._targets import entrepot


def _put(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    spool, state, sources = tmp_path / "outbox", tmp_path / "state", tmp_path / "sources"
    entrepot("spool", "init", spool)
    sources.mkdir()
    for name in names:
        (sources / name).write_bytes(name.encode())
    put = entrepot("spool", "put", spool, *(sources / n for n in names), "--state", state)
    assert put.returncode == ExitCode.OK, put.stderr
    return spool, state


def test_a_name_holding_a_bracket_is_found_as_it_is(tmp_path: Path) -> None:
    _, state = _put(tmp_path, "report[1].csv", "report1.csv", "report2.csv")
    exact = entrepot("trace", "report[1].csv", "--state", state, "--json")
    assert exact.returncode == ExitCode.OK, exact.stderr
    assert sorted(j["name"] for j in json.loads(exact.stdout)) == ["report1.csv", "report[1].csv"]
    waiting = entrepot("trace", "--undelivered", "report[1].csv", "--state", state, "--json")
    assert waiting.returncode == ExitCode.OK, waiting.stderr
    assert sorted(f["name"] for f in json.loads(waiting.stdout)) == [
        "report1.csv",
        "report[1].csv",
    ]
    star = entrepot("trace", "report*.csv", "--state", state, "--json")
    assert len(json.loads(star.stdout)) == 3


def test_a_route_that_is_no_folder_is_named_in_the_not_found_message(tmp_path: Path) -> None:
    spool, state = _put(tmp_path, "a.csv")
    missing = entrepot("trace", "a.csv", "--route", tmp_path / "nosuch", "--state", state)
    assert missing.returncode == ExitCode.NOT_FOUND
    assert "no such folder, and no configured route or spool of that name" in missing.stderr
    assert str(tmp_path / "nosuch") in missing.stderr
    other = entrepot("trace", "b.csv", "--route", spool, "--state", state)
    assert other.returncode == ExitCode.NOT_FOUND
    assert f"among the files of {spool}" in other.stderr
    assert "no such folder" not in other.stderr
    found = entrepot("trace", "a.csv", "--route", spool, "--state", state)
    assert found.returncode == ExitCode.OK, found.stderr


def test_a_spool_whose_folder_is_not_utf8_is_traced_with_its_bytes_shown(tmp_path: Path) -> None:
    """Its receipts' place held bytes that are not UTF-8: every command that opened the
    ledger afterwards failed ("surrogates not allowed") as it added them.  The events are
    kept, the folder written as ``\\xNN``, and the shipment is traced."""
    folder = os.path.join(os.fsencode(tmp_path), b"bad\xff")
    os.mkdir(folder)
    spool, state, dest = os.fsdecode(folder) + "/outbox", tmp_path / "state", tmp_path / "dest"
    dest.mkdir()
    entrepot("spool", "init", spool)
    (tmp_path / "a.csv").write_bytes(b"a")
    put = entrepot("spool", "put", spool, tmp_path / "a.csv", "--state", state)
    assert put.returncode == ExitCode.OK, put.stderr
    traced = entrepot("trace", "a.csv", "--state", state, "--json")
    assert traced.returncode == ExitCode.OK, traced.stderr
    assert json.loads(traced.stdout)[0]["place"].endswith("/bad\\xff/outbox")
    shipped = entrepot("ship", spool, dest.as_uri(), "--state", state)
    assert shipped.returncode == ExitCode.OK, shipped.stderr
    assert (dest / "a.csv").read_bytes() == b"a"
    again = entrepot("trace", "a.csv", "--state", state)
    assert again.returncode == ExitCode.OK, again.stderr
    assert "delivered to" in again.stdout
