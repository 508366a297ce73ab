"""What an operator or a producer types into the archive commands (issue 10, items 12 and 22).

* Item 22: sizes and durations are parsed by one parser (``4096B``, ``64KiB``,
  ``1h30m``); a bad one is a usage error (exit 2), never a traceback.
* Item 12: archive names and metadata that ``archive ls/cat/verify/stats``
  print go through ``shown``: no raw ESC reaches the terminal, and rich
  markup in a name is printed as written (``[/]`` cannot crash the command).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.archive import ArchiveSet, RollingWriter

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))
ESC = "\x1b"


def entrepot(*args: object, stdin: str = "") -> subprocess.CompletedProcess[str]:
    wide = {**os.environ, "COLUMNS": "300"}  # tables wide enough to show whole names
    return subprocess.run(
        [ENTREPOT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=60,
        env=wide,
    )  # fmt: skip


EVENTS = "".join(json.dumps({"n": n, "pad": "x" * 100}) + "\n" for n in range(200))


@pytest.mark.parametrize(
    ("options", "archives"),
    [
        (["--max-size", "4096B"], 7),
        (["--max-size", "4 KiB"], 7),
        (["--max-size", "10KB"], 3),
        (["--max-idle", "1h30m", "--max-age", "2d"], 1),
    ],
)
def test_sizes_and_durations_are_read_as_people_write_them(
    tmp_path: Path, options: list[str], archives: int
):
    written = entrepot("archive", "write", tmp_path, *options, stdin=EVENTS)
    assert written.returncode == 0, written.stderr
    assert len(written.stdout.split()) == archives
    assert [r.payload["n"] for r in ArchiveSet(str(tmp_path / "*"))] == list(range(200))


@pytest.mark.parametrize(
    "options",
    [
        ["--max-size", "10iB"],
        ["--max-size", "4096 bytes please"],
        ["--max-size", "-1"],
        ["--max-idle", "1hh"],
        ["--max-age", "soon"],
        ["--max-record", "lots"],
    ],
)
def test_a_bad_size_or_duration_is_a_usage_error(tmp_path: Path, options: list[str]):
    written = entrepot("archive", "write", tmp_path, *options, stdin=EVENTS)
    assert written.returncode == 2
    assert "Traceback" not in written.stderr
    assert "not a size" in written.stderr or "not a duration" in written.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def hostile_archives(root: Path) -> tuple[Path, Path]:
    """Archives whose names and metadata carry escape sequences and rich markup.

    The folder name ends in ``[`` and the file names start with ``]``, so every
    path printed holds ``[/]``, the markup that closes a style.
    """
    folder = root / "data["
    with RollingWriter(folder, "plain.events") as writer:
        writer.write({f"key{ESC}[31m": f"[bold]value{ESC}]0;title\a"}, "payload")
    # Entrepôt never names a file so; an archive received from elsewhere may be.
    intact = writer.finished[0].rename(folder / f"]in[reverse]voice{ESC}[2J.events")
    damaged = folder / f"]bad{ESC}[5m.events"
    data = bytearray(intact.read_bytes())
    data[-10] ^= 0xFF  # damage the seal record: the path is printed with the damage
    damaged.write_bytes(bytes(data))
    return intact, damaged


def test_names_and_metadata_are_escaped_in_ls_cat_verify_and_stats(tmp_path: Path):
    intact, _ = hostile_archives(tmp_path)
    for command in ("ls", "cat", "verify", "stats"):
        done = entrepot("archive", command, intact.parent)
        assert done.returncode in (0, 7), (command, done.stderr)
        assert "Traceback" not in done.stderr and "MarkupError" not in done.stderr
        for stream in (done.stdout, done.stderr):
            assert ESC not in stream, (command, stream)
    listing = entrepot("archive", "ls", intact.parent).stdout
    assert "]in[reverse]voice\\x1b[2J.events" in listing
    verify = entrepot("archive", "verify", intact.parent).stdout
    assert "data[/]bad\\x1b[5m.events" in verify.replace("\n", "")
    cat = entrepot("archive", "cat", intact.parent)
    assert "data[/]bad\\x1b[5m.events" in cat.stderr.replace("\n", "")
    record = json.loads(cat.stdout.splitlines()[0])
    assert record["metadata"] == {f"key{ESC}[31m": f"[bold]value{ESC}]0;title\a"}


def test_ls_and_verify_print_json_when_asked(tmp_path: Path):
    intact, damaged = hostile_archives(tmp_path)
    listing = json.loads(entrepot("archive", "ls", intact.parent, "--json").stdout)
    states = {item["name"]: item["state"] for item in listing}
    assert states == {intact.name: "sealed", damaged.name: "damaged (1)"}
    report = json.loads(entrepot("archive", "verify", intact.parent, "--json").stdout)
    assert sorted(item["ok"] for item in report) == [False, True]
    bad = next(item for item in report if not item["ok"])
    assert bad["damage"][0]["reason"] == "record checksum mismatch"
    written = entrepot("archive", "write", tmp_path / "w", "--json", stdin='{"a": 1}\n')
    result = json.loads(written.stdout)
    assert result["events"] == 1 and len(result["archives"]) == 1


def test_a_line_nested_past_what_the_parser_holds_stops_the_write_not_the_program(
    tmp_path: Path,
):
    deep = "[" * 100_000 + "]" * 100_000
    done = entrepot("archive", "write", tmp_path / "a", stdin=f'{{"n": 1}}\n{deep}\n{{"n": 3}}\n')
    assert done.returncode == 7, done.stderr
    assert "line 2: nested too deeply; stopped (earlier events are kept)" in done.stderr
    assert "Traceback" not in done.stderr
    kept = entrepot("archive", "cat", tmp_path / "a").stdout.splitlines()
    assert [json.loads(line)["payload"] for line in kept] == [{"n": 1}]
