"""Where a shipment's time goes, with provenance and without: its phases' moments.

    .venv/bin/python bench/ship_phases.py [--protocols file,sftp,s3] [--rounds 8]
        [--put copy] [--before SRC] [--settle 3]

Ships 2,000 files of 4 KiB as ``bench/cmd_ship.py --against no-provenance``
does (the same spool filling, targets and checks), each run through
``ship_phases_probe.py``, which notes when each phase of the command
began and ended: the recorder's opening and its recovery of the journals
left by the put, the listing, the connection, the look-up of the files'
receipts, the transfers, the run's commit, the ledger's closing.  The
sides take turns — ``off`` (``--no-provenance``), ``on``, and with
``--before`` the same command run from an older release's source folder
(on ``PYTHONPATH``) — and each moment is printed as its median over the
rounds, in milliseconds since the process started, beside the median time
of each side and its ratio to ``off``.  A breakdown, not a figure of
merit: the probe's own wrapping costs a few microseconds a call.
"""

from __future__ import annotations

import argparse
import json
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cmd_ship import Runs, ship_command, start_remotes
from harness import HERE, PYTHON, Side, random_files, scratch

PROBE = HERE / "ship_phases_probe.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocols", default="file,sftp,s3")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--put", default="copy", choices=("link", "copy", "each"))
    parser.add_argument("--before", help="an older release's src folder, run as a third side")
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    base = scratch("ship-phases")
    sources = random_files(base / "sources", 2000, 4096)
    sides = [("off", ("--no-provenance",), None), ("on", (), None)]
    if args.before:
        sides.append(("before", (), args.before))
    with ExitStack() as stack:
        _, _, remotes = start_remotes(stack, base)
        runs = Runs()
        for protocol in args.protocols.split(","):
            remote = remotes[protocol]
            marks: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in sides}
            times: dict[str, list[float]] = {label: [] for label, _, _ in sides}
            made = [
                phase_side(remote, sources, base, runs, args.put, *spec, marks) for spec in sides
            ]
            for number in range(args.rounds + 1):
                turn = number % len(made)
                for one in made[turn:] + made[:turn]:
                    elapsed, _ = one.run_once(args.settle)
                    if number:  # the first round warms up
                        times[one.label].append(elapsed)
                    else:
                        marks[one.label].clear()
            report(protocol, [label for label, _, _ in sides], marks, times)


def phase_side(
    remote: Any,
    sources: list[Path],
    base: Path,
    runs: Runs,
    put: str,
    label: str,
    extra: tuple[str, ...],
    source: str | None,
    marks: dict[str, list[dict[str, float]]],
) -> Side:
    if source is not None:  # an older release: a ledger of its own schema, its own spool
        base = base / f"side-{label}"
        base.mkdir(exist_ok=True)
    noted = base / f"phases-{label}.json"

    def collect(stdout: str) -> None:
        marks[label].append(json.loads(noted.read_text()))

    def prepare() -> Any:
        launcher = (PYTHON, str(PROBE), str(noted))
        return ship_command(
            remote, sources, base, runs, extra, launcher, collect, put=put, pythonpath=source
        )

    return Side(label, prepare)


def report(
    protocol: str,
    labels: list[str],
    marks: dict[str, list[dict[str, float]]],
    times: dict[str, list[float]],
) -> None:
    print(f"\n{protocol}: median ms since the process started")
    off = times[labels[0]]
    for label in labels:
        line = f"  {label:8} {statistics.median(times[label]):.3f} s"
        if label != labels[0]:
            ratio = statistics.median(o / t for o, t in zip(off, times[label], strict=True))
            line += f"   off ÷ {label} {ratio:.3f}"
        print(line)
    moments = sorted(
        {key for label in labels for run in marks[label] for key in run},
        key=lambda key: _median(marks[labels[-1]], key) or _median(marks[labels[0]], key) or 0,
    )
    print("  " + " " * 16 + "".join(f"{label:>10}" for label in labels))
    for key in moments:
        cells = [_median(marks[label], key) for label in labels]
        text = "".join(" " * 10 if cell is None else f"{cell:10.1f}" for cell in cells)
        print(f"  {key:16}{text}")


def _median(runs: list[dict[str, float]], key: str) -> float | None:
    found = [run[key] for run in runs if key in run]
    return statistics.median(found) if found else None


if __name__ == "__main__":
    main()
