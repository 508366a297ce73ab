"""The shared harness of the whole-command benchmarks (``bench/cmd_*.py``).

Each benchmark times the whole ``entrepot`` command — the virtual
environment's console script, in a subprocess, start-up included — against
the whole command of a reference tool, the way a user times what they run.

A *row* of a benchmark is one piece of work done by Entrepôt and by one or
more references.  Every side of a row is a :class:`Side`: its ``prepare``
function does the untimed work (fresh folders, spools, databases) and returns
the :class:`Command` to time, with the checks to run on what it did and the
clean-up after it.  :func:`measure` runs the rounds:

* one untimed warm-up round first (``--warmup``), verified like the others;
* then ``--rounds`` timed rounds (5 by default), the sides taking turns to
  go first (forwards in even rounds, backwards in odd ones);
* every run of every side is verified; a run that fails or whose result does
  not verify stops the benchmark with :class:`VerificationFailed`;
* before the clock starts, the file systems are synced (``os.sync``): what the
  preparation and the previous run's clean-up wrote (thousands of links made,
  folders deleted) reaches the disk untimed, instead of being charged to the
  first timed command that syncs a file — the sides alike;
* then, with ``--settle SECONDS``, a pause: in a virtual machine whose
  memory freed by the guest goes back to the host after a moment (free
  page reporting), a command that writes hundreds of MiB takes up to half as
  long again on memory handed back as on memory freed just before (the
  previous run's clean-up): the host faults each page in again.
  How long the untimed work took would decide which it gets, and with the
  sides taking turns, the same side could get it every round.  A pause of
  a few seconds gives every run the memory in the same state.

The figure of a row is the **median of the per-round ratios**, ratio =
reference time ÷ Entrepôt time (above 1, Entrepôt is faster), with their
range, the median times of both sides, the goal and the 1-minute load
average before and after the row (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
# The console script installed beside the interpreter running the benchmark
# (run the scripts with .venv/bin/python so that both are the project's).
ENTREPOT = str(Path(sys.executable).with_name("entrepot"))
PYTHON = sys.executable

# Python caches compiled modules by default (and pip compiles them at install);
# a PYTHONDONTWRITEBYTECODE=1 inherited from the environment would make every
# run compile Entrepôt's own modules (an editable install) afresh.  Every
# command measured runs with the default: the warm-up round fills the cache.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

for _path in (ROOT, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


class VerificationFailed(RuntimeError):
    """A run failed or left a wrong result: the benchmark stops."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise VerificationFailed(message)


def no_check(stdout: str) -> None:
    """For commands whose result is checked elsewhere."""


@dataclass
class Command:
    """One command to time, and what to do after it."""

    argv: list[str]
    verify: Callable[[str], None] = no_check  # called with the command's stdout
    cleanup: Callable[[], None] = lambda: None
    env: Mapping[str, str] | None = None
    cwd: Path | None = None


@dataclass
class Side:
    """Entrepôt or a reference: ``prepare`` (untimed) returns the command to time."""

    label: str
    prepare: Callable[[], Command]
    goal: float | None = None  # minimal ratio against Entrepôt (references only)
    goal_text: str = ""

    def run_once(self, settle: float = 0.0) -> tuple[float, float]:
        """Run the command once, ``settle`` seconds after the sync (``--settle``): its time,
        and its processor time (user + system), in seconds."""
        command = self.prepare()
        os.sync()  # the untimed work's writes on the disk before the clock starts
        if settle:
            time.sleep(settle)
        before = _children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(
            command.argv,
            env=command.env,
            cwd=command.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - before
        if proc.returncode != 0:
            raise VerificationFailed(
                f"{self.label}: exit {proc.returncode}\n$ {shown_argv(command.argv)}\n"
                f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
            )
        try:
            command.verify(proc.stdout)
        except VerificationFailed as exc:
            raise VerificationFailed(f"{self.label}: {exc}") from None
        command.cleanup()
        return elapsed, cpu


def _children_cpu() -> float:
    """User and system seconds of the children waited for so far (the measured command)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@dataclass
class Row:
    """Entrepôt against its references on one piece of work."""

    work: str
    ours: Side
    references: list[Side]
    times: dict[str, list[float]] = field(default_factory=dict)
    #: Processor seconds (user + system) of each timed run, by side.
    cpu: dict[str, list[float]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)


def shown_argv(argv: list[str]) -> str:
    text = " ".join(argv)
    return text if len(text) < 400 else text[:300] + f" … ({len(argv)} arguments)"


def measure(row: Row, rounds: int, warmup: int, settle: float = 0.0) -> Row:
    """Run the rounds of ``row`` (see the module docstring); fill its times."""
    sides = [row.ours, *row.references]
    row.times = {side.label: [] for side in sides}
    row.cpu = {side.label: [] for side in sides}
    load_before = os.getloadavg()[0]
    for number in range(warmup + rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for side in order:
            elapsed, cpu = side.run_once(settle)
            if number >= warmup:
                row.times[side.label].append(elapsed)
                row.cpu[side.label].append(cpu)
        done = f"round {number + 1 - warmup}" if number >= warmup else "warm-up"
        print(f"  {row.work}: {done} done", file=sys.stderr, flush=True)
    row.load = (load_before, os.getloadavg()[0])
    return row


def ratios(row: Row, reference: Side) -> list[float]:
    ours = row.times[row.ours.label]
    return [theirs / mine for theirs, mine in zip(row.times[reference.label], ours, strict=True)]


def summary(row: Row) -> list[dict[str, Any]]:
    """One line per reference: times, ratios, goal, load."""
    lines = []
    ours = row.times[row.ours.label]
    for reference in row.references:
        per_round = ratios(row, reference)
        ratio = statistics.median(per_round)
        lines.append(
            {
                "work": row.work,
                "entrepot": row.ours.label,
                "entrepot_s": statistics.median(ours),
                "reference": reference.label,
                "reference_s": statistics.median(row.times[reference.label]),
                "ratio": ratio,
                "ratio_min": min(per_round),
                "ratio_max": max(per_round),
                "goal": reference.goal,
                "goal_text": reference.goal_text,
                "met": None if reference.goal is None else ratio >= reference.goal,
                "load": list(row.load),
                "entrepot_times": ours,
                "reference_times": row.times[reference.label],
                "entrepot_cpu": row.cpu.get(row.ours.label, []),
                "reference_cpu": row.cpu.get(reference.label, []),
                "ratios": per_round,
            }
        )
    return lines


def shown_ratio(ratio: float) -> str:
    """Two decimals, three below 0.1 (start-up ratios are small)."""
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"


def print_table(lines: list[dict[str, Any]]) -> None:
    header = ("work", "Entrepôt", "reference", "ref.", "ratio", "range", "goal", "", "load")
    table = [header]
    for line in lines:
        verdict = "" if line["met"] is None else ("met" if line["met"] else "MISSED")
        table.append(
            (
                line["work"],
                f"{line['entrepot_s']:.3f} s",
                line["reference"],
                f"{line['reference_s']:.3f} s",
                shown_ratio(line["ratio"]),
                f"{shown_ratio(line['ratio_min'])}–{shown_ratio(line['ratio_max'])}",
                line["goal_text"] or "—",
                verdict,
                "{:.1f}–{:.1f}".format(*line["load"]),
            )
        )
    print_columns(table)


def print_columns(table: Sequence[Sequence[str]]) -> None:
    """``table``'s lines in aligned columns, a rule under its first (the header)."""
    widths = [max(len(str(cells[n])) for cells in table) for n in range(len(table[0]))]
    for number, cells in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def options(description: str) -> argparse.ArgumentParser:
    """The options every benchmark has; scripts add their workload sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause before each timed run, after the sync (default none; see the module)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    return parser


def run_rows(
    script: str, args: argparse.Namespace, rows: Iterable[Row], workload: dict[str, Any]
) -> None:
    """Measure every row, print the table, write ``--json``."""
    started = datetime.datetime.now(datetime.UTC)
    lines: list[dict[str, Any]] = []
    settle = getattr(args, "settle", 0.0)
    if settle:
        workload = {**workload, "settle": settle}
    print(
        f"{script}: {args.rounds} rounds (+{args.warmup} warm-up), "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; workload {workload}"
    )
    for row in rows:
        lines += summary(measure(row, args.rounds, args.warmup, settle))
    print("ratio = reference time ÷ Entrepôt time (median of the per-round ratios)")
    print_table(lines)
    if args.json:
        report = {
            "script": script,
            "started": started.isoformat(timespec="seconds"),
            "rounds": args.rounds,
            "warmup": args.warmup,
            "workload": workload,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "rows": lines,
        }
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


# -- workloads and checks -------------------------------------------------------


def scratch(name: str) -> Path:
    """An empty folder under bench/.work/ (on the disk, not a tmpfs)."""
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def new_ledger(state: Path) -> None:
    """An empty ledger in the state folder ``state``, as the first command that records
    makes it (untimed preparation: the commands read from it are timed without it)."""
    code = "import sys; from entrepot.jobs import Ledger; Ledger.open(sys.argv[1]).close()"
    subprocess.run([PYTHON, "-c", code, str(state)], check=True, capture_output=True)


def random_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"f{number:05}.bin" for number in range(count)]
    for path in paths:
        path.write_bytes(os.urandom(size))
    return paths


def random_file(path: Path, mib: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(1024 * 1024))
    return path


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def digests(paths: Iterable[Path]) -> dict[str, tuple[int, str]]:
    """name → (size, sha256) of each file."""
    return {path.name: (path.stat().st_size, sha256_file(path)) for path in paths}


def folder_digests(folder: Path) -> dict[str, tuple[int, str]]:
    """name → (size, sha256) of every entry of ``folder`` (sub-folders show up as errors)."""
    check(folder.is_dir(), f"{folder} is missing")
    return digests(sorted(folder.iterdir()))


def check_same(found: dict[str, tuple[int, str]], expected: dict[str, tuple[int, str]]) -> None:
    """The files found are exactly the ones expected: names, sizes, checksums."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    different = sorted(n for n in set(found) & set(expected) if found[n] != expected[n])
    check(
        not (missing or extra or different),
        f"{len(missing)} missing {missing[:3]}, {len(extra)} unexpected {extra[:3]}, "
        f"{len(different)} with other sizes or checksums {different[:3]}",
    )


def files_in(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
