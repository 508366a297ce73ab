"""The ``entrepot`` command in a subprocess: spool commands, status, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def entrepot(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


def test_version_and_help() -> None:
    result = entrepot("--version")
    assert result.returncode == 0 and result.stdout.startswith("entrepot ")
    assert entrepot().returncode == 2  # no command: usage
    assert entrepot("--no-such-option").returncode == 2


def test_spool_round_trip(tmp_path: Path) -> None:
    spool = tmp_path / "outbox"
    assert entrepot("spool", "init", spool).returncode == 0
    sources = []
    for number in range(25):
        source = tmp_path / f"data-{number:02d}.csv"
        source.write_text(f"row {number}\n")
        sources.append(source)
    put = entrepot("spool", "put", spool, *sources)
    assert put.returncode == 0, put.stderr
    assert sorted(os.listdir(spool / "new")) == sorted(s.name for s in sources)

    listing = entrepot("spool", "ls", spool)
    assert "data-00.csv" in listing.stdout and "25 files" in listing.stdout

    claimed = entrepot("spool", "claim", spool, "--name", "data-03.csv")
    assert claimed.returncode == 0
    claim_id = claimed.stdout.split()[0]
    assert claim_id.endswith("-data-03.csv")
    done = entrepot("spool", "done", spool, claim_id)
    assert done.returncode == 0
    assert (spool / "cur" / "data-03.csv").read_text() == "row 3\n"

    stats = entrepot("spool", "stats", spool)
    assert "24" in stats.stdout and "cur" in stats.stdout

    # A name already waiting is refused, and nothing is overwritten.
    again = entrepot("spool", "put", spool, sources[0])
    assert again.returncode == 1
    assert "already exists" in again.stderr

    # A claim id that is not held: exit code for "gone".
    assert entrepot("spool", "done", spool, claim_id).returncode != 0
    assert entrepot("spool", "claim", tmp_path / "empty-spool").returncode == 4


def test_hostile_names_are_refused_with_usage_code(tmp_path: Path) -> None:
    spool = tmp_path / "s"
    source = tmp_path / "f"
    source.write_text("x")
    result = entrepot("spool", "put", spool, source, "--name", "../../escape", "--create")
    assert result.returncode == 2
    assert "path separator" in result.stderr
    assert not (tmp_path / "escape").exists()
