"""``entrepot archive write --spool`` records each archive's steps, as the library's
writer does: ``trace`` finds the archive from its first record to its delivery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))


def entrepot(*args: object, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTREPOT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip


def steps(state: Path, pattern: str) -> dict[str, list[str]]:
    done = entrepot("trace", pattern, "--state", state, "--json")
    assert done.returncode == 0, done.stderr
    return {
        f"{item['place']}/{item['name']}": [event["kind"] for event in item["events"]]
        for item in json.loads(done.stdout)
    }


def test_an_archive_handed_to_a_spool_is_traced_to_its_delivery(tmp_path: Path) -> None:
    state, spool, dest = tmp_path / "state", tmp_path / "sp", tmp_path / "dest"
    entrepot("spool", "init", spool)
    dest.mkdir()
    written = entrepot(
        "archive", "write", tmp_path / "arch", "--spool", spool, "--state", state,
        "-t", "a-{seq}.events", stdin="1\n2\n",
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    shipped = entrepot("ship", spool, dest.as_uri(), "--state", state)
    assert shipped.returncode == 0, shipped.stderr
    found = steps(state, "a-0.events")
    assert found[str(tmp_path / "arch" / "a-0.events")] == ["archived", "sealed", "handed_off"]
    assert found[str(spool / "a-0.events")] == ["received", "claimed", "delivered", "moved"]


def test_no_provenance_records_nothing(tmp_path: Path) -> None:
    state, spool = tmp_path / "state", tmp_path / "sp"
    entrepot("spool", "init", spool)
    written = entrepot(
        "archive", "write", tmp_path / "arch", "--spool", spool, "--state", state,
        "--no-provenance", stdin="1\n",
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert not state.exists()
