"""``entrepot archive`` as an operator runs it: the command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.test_archive_shoebox_v1 import shoebox_archive

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))


def entrepot(*args: object, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTREPOT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=60
    )


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_write_then_cat_ls_stats_and_verify(tmp_path: Path):
    events = "".join(
        json.dumps({"n": i, "kind": "odd" if i % 2 else "even"}) + "\n" for i in range(9)
    )
    options = ["--max-records", "4", "-z", "zstd", "-m", "source=test"]
    options += ["--template", "ev-{seq:03d}.events"]
    written = entrepot("archive", "write", tmp_path / "a", *options, stdin=events)
    assert written.returncode == 0, written.stderr
    files = written.stdout.split()
    assert [Path(f).name for f in files] == [f"ev-{n:03d}.events.zst" for n in range(3)]
    assert "9 events in 3 archives" in written.stderr

    cat = entrepot("archive", "cat", tmp_path / "a")
    assert cat.returncode == 0, cat.stderr
    assert [line["payload"]["n"] for line in lines(cat.stdout)] == list(range(9))  # type: ignore[index]
    assert all(line["metadata"] == {"source": "test"} for line in lines(cat.stdout))

    listing = entrepot("archive", "ls", tmp_path / "a")
    assert listing.returncode == 0 and listing.stdout.count("sealed") == 3

    stats = entrepot("archive", "stats", "--json", str(tmp_path / "a" / "*.zst"))
    figures = json.loads(stats.stdout)
    assert figures["files"] == 3 and figures["records"] == 9
    assert figures["metadata_keys"] == {"source": 9} and figures["payload_types"] == {"json": 9}

    verify = entrepot("archive", "verify", tmp_path / "a")
    assert verify.returncode == 0 and verify.stdout.count("ok") == 3


def test_cat_filters_on_metadata_and_round_trips_envelopes(tmp_path: Path):
    events = [
        {"metadata": {"kind": "a"}, "payload": "text one"},
        {"metadata": {"kind": "b"}, "payload": {"x": 1}},
        {"metadata": {"kind": "a"}, "payload": "AAEC", "payload_encoding": "base64"},
    ]
    stdin = "".join(json.dumps(e) + "\n" for e in events)
    assert entrepot("archive", "write", tmp_path, "--envelope", stdin=stdin).returncode == 0
    only_a = lines(entrepot("archive", "cat", tmp_path, "--where", "kind=a").stdout)
    assert only_a == [events[0], events[2]]
    again = "".join(json.dumps(e) + "\n" for e in only_a)
    assert (
        entrepot("archive", "write", tmp_path / "copy", "--envelope", stdin=again).returncode == 0
    )
    assert lines(entrepot("archive", "cat", tmp_path / "copy").stdout) == only_a


def test_verify_reports_damage_with_offsets_and_fails(tmp_path: Path):
    stdin = "".join(json.dumps({"n": i, "pad": "x" * 40}) + "\n" for i in range(5))
    path = Path(entrepot("archive", "write", tmp_path, stdin=stdin).stdout.split()[0])
    data = bytearray(path.read_bytes())
    spot = data.index(b'"n":2')
    data[spot + 1] ^= 0x20
    path.write_bytes(bytes(data))

    verify = entrepot("archive", "verify", path)
    assert verify.returncode == 7
    assert "DAMAGED" in verify.stdout and "offset" in verify.stdout
    assert "checksum" in verify.stdout

    cat = entrepot("archive", "cat", path)
    assert cat.returncode == 7
    assert [line["payload"]["n"] for line in lines(cat.stdout)] == [0, 1, 3, 4]  # type: ignore[index]
    assert "skipped damage at offset" in cat.stderr
    strict = entrepot("archive", "cat", "--strict", path)
    assert strict.returncode == 7 and len(lines(strict.stdout)) == 2


def test_cat_reads_an_archive_written_by_shoebox(tmp_path: Path):
    old = tmp_path / "old.events"
    old.write_bytes(shoebox_archive([({"index": "0", "clé": "é"}, b'{"n": 0}\n')]))
    cat = entrepot("archive", "cat", old)
    assert cat.returncode == 0, cat.stderr
    assert lines(cat.stdout) == [
        {"metadata": {"index": "0", "clé": "é"}, "payload": "eyJuIjogMH0K",
         "payload_encoding": "base64"}
    ]  # fmt: skip


def test_bad_input_and_missing_files_get_clear_errors(tmp_path: Path):
    bad = entrepot("archive", "write", tmp_path, stdin='{"ok": 1}\nnot json\n')
    assert bad.returncode == 7 and "line 2" in bad.stderr
    assert len(lines(entrepot("archive", "cat", tmp_path).stdout)) == 1
    missing = entrepot("archive", "cat", tmp_path / "nope.events")
    assert missing.returncode == 3 and "no such archive" in missing.stderr
    unknown = tmp_path / "text.txt"
    unknown.write_text("hello")
    assert entrepot("archive", "verify", unknown).returncode == 7


def test_a_quiet_input_still_rolls_on_idle_time(tmp_path: Path):
    import time

    process = subprocess.Popen(
        [ENTREPOT, "archive", "write", tmp_path, "--max-idle", "0.3s", "-t", "idle-{seq}.events"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdin is not None
        process.stdin.write(b'{"first": true}\n')
        process.stdin.flush()
        deadline = time.monotonic() + 20
        while not (tmp_path / "idle-0.events").exists():
            assert time.monotonic() < deadline, "the idle archive was never sealed"
            time.sleep(0.05)
        assert process.poll() is None  # sealed while the writer still waits for input
        process.stdin.write(b'{"second": true}\n')
        process.stdin.close()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    cat = entrepot("archive", "cat", tmp_path)
    assert [line["payload"] for line in lines(cat.stdout)] == [{"first": True}, {"second": True}]
