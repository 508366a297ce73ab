"""Where provenance's cost goes in a shipment: each step's processor time, in the command.

    .venv/bin/python bench/provenance_steps.py [--protocols file,sftp,s3] [--files 2000]
        [--size 4096] [--rounds 5] [--json FILE]

``cmd_ship.py --against no-provenance`` says how much provenance costs a
whole ``entrepot ship``; this says where.  The same shipment (``--files``
files of ``--size`` bytes, ``--parallel 4``, to the servers of
``cmd_ship.py``) runs with provenance and with ``--no-provenance``,
alternating after an untimed round, each under ``provenance_probe.py``:
every step of a file's record (:data:`provenance_probe.STEPS`) adds up the
processor time of the thread that runs it.  Processor time, not elapsed
time: a step that waits (for the disk, for the interpreter's lock) is
charged only what it computed.

Each step's figure is the median over the rounds of its time per file
shipped, less the wrapper's own cost: in the runs without provenance the
per-file steps return at once, so their time per call is the wrapper's
(about a microsecond), subtracted from every call of the runs with it.
Beside them: the whole process's processor time with and without
provenance (user + system, all threads), whose difference is what
provenance costs in all — the steps' sum, plus what no step holds
(imports, the ledger's schema check, the threads' extra switches).

``read and hash`` reads the file and hashes it: the read replaces the one
the upload makes without provenance, so only part of it is provenance's.
"""

from __future__ import annotations

import json
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cmd_ship import Runs, ship_command
from harness import HERE, PYTHON, Side, options, random_files, scratch
from provenance_probe import STEPS
from ship_remotes import start_remotes

PROBE = str(HERE / "provenance_probe.py")
#: Steps called once per file shipped.
PER_FILE = ("claim", "read and hash", "checksum", "delivery", "move")
#: Steps whose calls in a run without provenance return at once: the wrapper's cost.
WRAPPER_ONLY = ("claim", "checksum", "delivery", "move")


def probed_side(
    label: str, remote: Any, sources: list[Path], base: Path, runs: Runs, on: bool, put: str
) -> tuple[Side, list[dict[str, Any]]]:
    """A side that ships under the probe; the probe's reports, one per run, are appended
    to the list returned."""
    reports: list[dict[str, Any]] = []
    report = base / f"probe-{label}.json"

    def collect(stdout: str) -> None:
        reports.append(json.loads(report.read_text()))

    def prepare() -> Any:
        report.unlink(missing_ok=True)
        extra = () if on else ("--no-provenance",)
        launcher = (PYTHON, PROBE, str(report))
        return ship_command(remote, sources, base, runs, extra, launcher, collect, put=put)

    return Side(label, prepare), reports


def per_call(report: dict[str, Any], step: str) -> float:
    found = report["steps"].get(step)
    return found["ns"] / found["calls"] / 1000 if found and found["calls"] else 0.0


def breakdown(on: list[dict[str, Any]], off: list[dict[str, Any]], files: int) -> dict[str, Any]:
    """Microseconds per file by step (medians over the rounds), net of the wrapper."""
    wrapper = statistics.median(
        statistics.mean(per_call(report, step) for step in WRAPPER_ONLY) for report in off
    )
    steps: dict[str, float] = {}
    for step in STEPS:
        per_round = []
        for report in on:
            found = report["steps"].get(step, {"ns": 0, "calls": 0})
            spent = found["ns"] / 1000 - wrapper * found["calls"]
            per_round.append(max(spent, 0.0) / files)
        steps[step] = statistics.median(per_round)
    cpu_on = statistics.median(report["cpu"] for report in on)
    cpu_off = statistics.median(report["cpu"] for report in off)
    return {
        "wrapper_us": wrapper,
        "steps_us_per_file": steps,
        "steps_total_us_per_file": sum(steps.values()),
        "cpu_on_s": cpu_on,
        "cpu_off_s": cpu_off,
        "cpu_difference_us_per_file": (cpu_on - cpu_off) * 1e6 / files,
        "cpu_ratio": cpu_off / cpu_on,
        "switches_on": statistics.median(report["voluntary_switches"] for report in on),
        "switches_off": statistics.median(report["voluntary_switches"] for report in off),
    }


def print_breakdowns(found: dict[str, dict[str, Any]]) -> None:
    protocols = list(found)
    print(f"{'µs per file shipped':28}" + "".join(f"{name:>10}" for name in protocols))
    for step in STEPS:
        shown = "".join(f"{found[p]['steps_us_per_file'][step]:>10.1f}" for p in protocols)
        print(f"  {step + (' (per file)' if step in PER_FILE else ''):26}{shown}")
    rows = [
        ("steps together", "steps_total_us_per_file", "{:>10.1f}"),
        ("process, on − off", "cpu_difference_us_per_file", "{:>10.1f}"),
        ("process cpu off ÷ on", "cpu_ratio", "{:>10.3f}"),
        ("wrapper per call (µs)", "wrapper_us", "{:>10.2f}"),
    ]
    for label, key, form in rows:
        print(f"{label:28}" + "".join(form.format(found[p][key]) for p in protocols))


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="files to ship (default 2000)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file (default 4096)")
    parser.add_argument("--protocols", default="file,sftp,s3", help="file, ftp, sftp, s3")
    parser.add_argument(
        "--put", choices=("link", "copy", "each"), default="link", help="as bench/cmd_ship.py's"
    )
    args = parser.parse_args()
    base = scratch("provenance-steps")
    sources = random_files(base / "sources", args.files, args.size)
    found: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        _, _, remotes = start_remotes(stack, base)
        runs = Runs()
        for protocol in args.protocols.split(","):
            remote = remotes[protocol]
            on, on_reports = probed_side("on", remote, sources, base, runs, True, args.put)
            off, off_reports = probed_side("off", remote, sources, base, runs, False, args.put)
            for number in range(args.warmup + args.rounds):
                for side in (on, off) if number % 2 == 0 else (off, on):
                    side.run_once(args.settle)
                if number < args.warmup:  # the warm-up's reports are not counted
                    on_reports.clear()
                    off_reports.clear()
            found[protocol] = breakdown(on_reports, off_reports, args.files)
            found[protocol]["rounds"] = len(on_reports)
    print_breakdowns(found)
    if args.json:
        workload = {"files": args.files, "size": args.size, "parallel": 4, "put": args.put}
        args.json.write_text(json.dumps({"workload": workload, "protocols": found}, indent=2))


if __name__ == "__main__":
    main()
