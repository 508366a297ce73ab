"""What `entrepot archive write` is given by mistake or by a hostile producer: roll
policies with values they cannot hold, a hand-off spool that is not there (or a URL), a
template that names archives like open ones, a line without end, NaN, an unknown payload
encoding.  Each is refused before an event is read, or stops at its line with the
earlier events kept — never a traceback, never an empty archive, never a folder made
for nothing.  And what the readers print: sequence numbers that go on across runs of a
compressed series, a listing that can leave open archives out, a glob that matches
nothing, JSON without raw C1 controls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.archive import ArchiveSet
from entrepot.cli.lines import LineInput, LineTooLong

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))


def entrepot(*args: object, stdin: str | bytes = "") -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [ENTREPOT, *map(str, args)], input=data, capture_output=True, timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("idle:seconds=banana", "seconds: not a duration"),
        ("count:max_records=x", "max_records: not a whole number"),
        ("count:max_records=-1", "max_records: must be at least 1"),
        ("count:max_records=true", "max_records: not a whole number"),
        ("size:max_bytes=-5", "max_bytes: a size cannot be negative"),
        ("age:seconds=NaN", "seconds: not a duration"),
    ],
)
def test_a_roll_policy_value_it_cannot_hold_is_refused_before_any_event(
    tmp_path: Path, policy: str, message: str
) -> None:
    done = entrepot("archive", "write", tmp_path / "a", "--policy", policy, stdin="1\n")
    assert done.returncode == 3, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a").exists()  # nothing made for a command that cannot run


def test_policy_values_are_read_as_people_write_them(tmp_path: Path) -> None:
    lines = "".join(json.dumps("x" * 400) + "\n" for _ in range(30))
    done = entrepot(
        "archive", "write", tmp_path, "--policy", "size:max_bytes=4KiB",
        "--policy", "idle:seconds=30s", stdin=lines,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 3  # 30 × ~400 bytes in archives of 4 KiB
    assert len(list(ArchiveSet(str(tmp_path / "*")))) == 30


@pytest.mark.parametrize("spool", ["sftp://bob:hunter2@example.com/in", "typo", ""])
def test_a_hand_off_spool_that_is_not_there_is_refused_never_made(
    tmp_path: Path, spool: str
) -> None:
    os.chdir(tmp_path)
    done = entrepot("archive", "write", "out", "--spool", spool, stdin="1\n")
    assert done.returncode == 4, done.stderr
    assert "create it with 'entrepot spool init'" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert sorted(os.listdir(tmp_path)) == []  # no spool, no archive folder


def test_a_template_that_names_archives_like_open_ones_is_refused(tmp_path: Path) -> None:
    done = entrepot("archive", "write", tmp_path / "o", "-t", "x-{seq}.events.open", stdin="1\n")
    assert done.returncode == 3 and "as open archives do" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_seq_goes_on_across_runs_of_a_compressed_series(tmp_path: Path, compression: str) -> None:
    for _ in range(3):
        done = entrepot(
            "archive", "write", tmp_path, "-z", compression, "-t", "o-{seq}.events",
            "--max-records", "1", stdin="1\n2\n",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    suffix = {"zstd": ".zst", "gzip": ".gz"}[compression]
    assert sorted(os.listdir(tmp_path)) == sorted(f"o-{n}.events{suffix}" for n in range(6))


def test_a_line_without_end_stops_at_the_limit_and_keeps_the_lines_before(
    tmp_path: Path,
) -> None:
    source = tmp_path / "input"
    source.write_bytes(b'"a"\n"b"\n' + b"x" * 300_000)
    with source.open("rb") as stream:
        lines = LineInput(stream, limit=100_000)
        taken = []
        with pytest.raises(LineTooLong, match="line 3 runs past 100,000 bytes"):
            while (batch := lines.take()) is not None:
                taken += batch
    assert taken == [(1, b'"a"'), (2, b'"b"')]


def test_a_long_line_is_read_in_linear_time(tmp_path: Path) -> None:
    """Each read of a line's pieces is joined once: a 40 MB line no longer takes 15 times
    as long as a 10 MB one (it did: the line so far was copied at every 64 KiB read)."""
    timings = []
    for size in (10_000_000, 40_000_000):
        line = b'"' + b"a" * size + b'"\n'
        started = time.perf_counter()
        done = entrepot(
            "archive", "write", tmp_path / str(size), "--max-record", "200MB", stdin=line
        )
        timings.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stderr
    assert timings[1] < 4 * timings[0] + 0.5  # 4 times the bytes; quadratic was 10 times


def test_a_line_longer_than_any_record_stops_the_write_early(tmp_path: Path) -> None:
    stream = b'{"n": 1}\n' + b'"' + b"a" * 8_000_000  # never ends
    done = entrepot("archive", "write", tmp_path, "--max-record", "1MB", stdin=stream)
    assert done.returncode == 7, done.stderr
    assert "line 2 runs past" in done.stderr and "earlier events are kept" in done.stderr
    assert [r.payload for r in ArchiveSet(str(tmp_path / "*"))] == [{"n": 1}]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NaN", "NaN is not a JSON value"),
        ('{"x": Infinity}', "Infinity is not a JSON value"),
    ],
)
def test_nan_and_infinity_are_no_json_and_stop_the_write(
    tmp_path: Path, line: str, message: str
) -> None:
    done = entrepot("archive", "write", tmp_path, stdin=f"1\n{line}\n3\n")
    assert done.returncode == 7 and f"line 2: {message}" in done.stderr
    assert [r.payload for r in ArchiveSet(str(tmp_path / "*"))] == [1]


def test_an_unknown_payload_encoding_is_refused(tmp_path: Path) -> None:
    line = json.dumps({"payload": "6869", "payload_encoding": "hex"})
    done = entrepot("archive", "write", tmp_path, "--envelope", stdin=line + "\n")
    assert done.returncode == 7 and "unknown payload_encoding 'hex'" in done.stderr
    assert os.listdir(tmp_path) == []  # and no archive opened for the event refused


def test_an_event_refused_first_leaves_no_empty_archive(tmp_path: Path) -> None:
    done = entrepot(
        "archive", "write", tmp_path, "--max-record", "10", stdin='"' + "a" * 50 + '"\n'
    )
    assert done.returncode == 7, done.stderr
    assert "line 1: the record holds 50 bytes" in done.stderr
    assert os.listdir(tmp_path) == [] and "0 events in 0 archives" in done.stderr


def test_ls_can_leave_open_archives_out(tmp_path: Path) -> None:
    entrepot("archive", "write", tmp_path, "-t", "a.events", stdin="1\n")
    (tmp_path / "b.events.open").write_bytes((tmp_path / "a.events").read_bytes())
    both = entrepot("archive", "ls", tmp_path, "--json")
    assert sorted(item["name"] for item in json.loads(both.stdout)) == ["a.events", "b.events.open"]
    sealed = entrepot("archive", "ls", tmp_path, "--json", "--no-include-open")
    assert sealed.returncode == 0, sealed.stderr
    assert [item["name"] for item in json.loads(sealed.stdout)] == ["a.events"]


@pytest.mark.parametrize("command", ["cat", "ls", "verify", "stats"])
def test_a_glob_that_matches_nothing_is_an_error(tmp_path: Path, command: str) -> None:
    done = entrepot("archive", command, str(tmp_path / "nosuch" / "*.zst"))
    assert done.returncode == 3, done.stdout
    assert "no archive matches" in done.stderr


def test_json_output_escapes_c1_controls(tmp_path: Path) -> None:
    entrepot("archive", "write", tmp_path, "--meta", "k\u009b=v", stdin="1\n")
    done = entrepot("archive", "stats", tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert "\u009b" not in done.stdout and "\\u009b" in done.stdout
    assert json.loads(done.stdout)["metadata_keys"] == {"k\u009b": 1}
