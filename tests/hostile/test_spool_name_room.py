"""A spool keeps only names that can be claimed.

A claim renames ``new/NAME`` to ``claimed/TOKEN-NAME``, 17 bytes longer, and a
file system's names stop at 255 bytes: a file put under a name of 239 to 255
bytes could never be shipped (``ship`` skips it and says so, exit 7, run
after run).  Every way into a spool — ``spool put``, the library's writers,
a batch, ``fetch`` — now refuses such a name at once, and says why; a name of
exactly 238 bytes is put and shipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrepot.cli.exitcodes import ExitCode
from entrepot.errors import InvalidName
from entrepot.spool import MAX_SPOOL_NAME_BYTES, Spool
from tests.hostile._targets import entrepot

LONGEST = "a" * (MAX_SPOOL_NAME_BYTES - 4) + ".csv"
TOO_LONG = "b" * (MAX_SPOOL_NAME_BYTES - 3) + ".csv"


def test_the_longest_name_is_put_and_shipped_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    assert MAX_SPOOL_NAME_BYTES == 238 and len(LONGEST) == 238 and len(TOO_LONG) == 239
    spool, dest, sources = tmp_path / "outbox", tmp_path / "dest", tmp_path / "sources"
    entrepot("spool", "init", spool)
    dest.mkdir()
    sources.mkdir()
    for name in (LONGEST, TOO_LONG):
        (sources / name).write_bytes(b"x")
    refused = entrepot("spool", "put", spool, sources / TOO_LONG)
    assert refused.returncode == ExitCode.USAGE
    assert "is longer than 238 bytes, the most a spool keeps" in refused.stderr
    assert "'bbbbbbbb" in refused.stderr  # which file, shortened
    assert list((spool / "new").iterdir()) == [] and list((spool / "tmp").iterdir()) == []
    assert entrepot("spool", "put", spool, sources / LONGEST).returncode == ExitCode.OK
    shipped = entrepot("ship", spool, dest.as_uri(), "--json")
    assert shipped.returncode == ExitCode.OK, shipped.stderr
    assert [p.name for p in dest.iterdir()] == [LONGEST]


@pytest.mark.parametrize("way", ["publish_bytes", "writer", "batch"])
def test_the_library_refuses_a_name_that_cannot_be_claimed(tmp_path: Path, way: str) -> None:
    spool = Spool(tmp_path / "outbox")
    spool.prepare()
    multibyte = "é" * 120  # 240 bytes in UTF-8, 120 characters
    for name in (TOO_LONG, multibyte):
        with pytest.raises(InvalidName, match="the most a spool keeps"):
            if way == "publish_bytes":
                spool.publish_bytes(b"x", name)
            elif way == "writer":
                with spool.writer(name) as out:
                    out.write(b"x")
            else:
                with spool.batch() as batch:
                    batch.add_bytes(b"x", name)
    assert list((tmp_path / "outbox" / "new").iterdir()) == []
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []


def test_fetch_skips_a_remote_name_that_no_spool_entry_may_have(tmp_path: Path) -> None:
    """It is left on the remote side, reported (exit 7), and the other files come in."""
    remote, spool = tmp_path / "remote", tmp_path / "inbox"
    remote.mkdir()
    entrepot("spool", "init", spool)
    for name in (TOO_LONG, "good.csv"):
        (remote / name).write_bytes(b"x")
    fetched = entrepot("fetch", remote.as_uri(), spool, "--json")
    assert fetched.returncode == ExitCode.DATA, fetched.stderr
    result = json.loads(fetched.stdout)
    assert list(result["skipped"]) == [TOO_LONG]
    assert "the most a spool keeps" in result["skipped"][TOO_LONG]
    assert [p.name for p in (spool / "new").iterdir()] == ["good.csv"]
    assert sorted(p.name for p in remote.iterdir()) == [TOO_LONG]
