"""Where a shipment's time goes, with provenance and without: its phases' moments.

    .venv/bin/python bench/ship_phases.py [--protocols file,sftp,s3] [--rounds 8]
        [--put copy] [--parallel 4] [--before SRC] [--settle 3] [--busy US]... [--no-line]

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
of each side and its ratio to ``off``, and the transfers' time (the phase
``deliver``) with its difference from ``off`` in the same round (median).
Sides that change the command to measure a part (``--busy``,
``--no-line``: see ``ship_phases_probe.py``) come after.  A breakdown, not a
figure of merit: the probe's own wrapping costs a few microseconds a call.
"""

from __future__ import annotations

import argparse
import json
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cmd_ship import Runs, ship_command
from harness import HERE, PYTHON, Side, random_files, scratch
from ship_remotes import start_remotes

PROBE = HERE / "ship_phases_probe.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocols", default="file,sftp,s3")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--put", default="copy", choices=("link", "copy", "each"))
    parser.add_argument("--before", help="an older release's src folder, run as a third side")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--parallel", type=int, default=4, help="transfers at once (default 4)")
    parser.add_argument(
        "--busy", type=float, action="append", default=[], metavar="US",
        help="a side without provenance whose claims spin US µs more a file (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--no-line", action="store_true",
        help="a side with provenance but no delivery's journal line (to measure it)",
    )  # fmt: skip
    args = parser.parse_args()
    base = scratch("ship-phases")
    sources = random_files(base / "sources", 2000, 4096)
    sides: list[tuple[str, tuple[str, ...], str | None, str | None]] = [
        ("off", ("--no-provenance",), None, None),
        ("on", (), None, None),
    ]
    if args.before:
        sides.append(("before", (), args.before, None))
    for spin in args.busy:
        sides.append((f"busy {spin:g}", ("--no-provenance",), None, f"busy:{spin:g}"))
    if args.no_line:
        sides.append(("no line", (), None, "no-line"))
    with ExitStack() as stack:
        _, _, remotes = start_remotes(stack, base)
        runs = Runs()
        for protocol in args.protocols.split(","):
            remote = remotes[protocol]
            marks: dict[str, list[dict[str, float]]] = {label: [] for label, *_ in sides}
            times: dict[str, list[float]] = {label: [] for label, *_ in sides}
            made = [
                phase_side(remote, sources, base, runs, args.put, args.parallel, *spec, marks)
                for spec in sides
            ]
            for number in range(args.rounds + 1):
                turn = number % len(made)
                for one in made[turn:] + made[:turn]:
                    elapsed, _ = one.run_once(args.settle)
                    if number:  # the first round warms up
                        times[one.label].append(elapsed)
                    else:
                        marks[one.label].clear()
            report(protocol, [label for label, *_ in sides], marks, times)


def phase_side(
    remote: Any,
    sources: list[Path],
    base: Path,
    runs: Runs,
    put: str,
    parallel: int,
    label: str,
    extra: tuple[str, ...],
    source: str | None,
    variant: str | None,
    marks: dict[str, list[dict[str, float]]],
) -> Side:
    if source is not None:  # an older release: a ledger of its own schema, its own spool
        base = base / f"side-{label}"
        base.mkdir(exist_ok=True)
    noted = base / f"phases-{label.replace(' ', '-')}.json"
    changed = () if variant is None else (f"--variant={variant}",)

    def collect(stdout: str) -> None:
        marks[label].append(json.loads(noted.read_text()))

    def prepare() -> Any:
        launcher = (PYTHON, str(PROBE), *changed, str(noted))
        return ship_command(
            remote,
            sources,
            base,
            runs,
            extra,
            launcher,
            collect,
            put=put,
            pythonpath=source,
            parallel=parallel,
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
    transfers = {label: _spans(marks[label], "deliver") for label in labels}
    for label in labels:
        spans = transfers[label]
        if not spans:
            continue
        line = f"  {label:8} transfers {statistics.median(spans):7.1f} ms"
        if label != labels[0] and len(spans) == len(transfers[labels[0]]):
            paired = [t - o for o, t in zip(transfers[labels[0]], spans, strict=True)]
            line += f"   − off, same round: {statistics.median(paired):+6.1f} ms"
            line += f" ({min(paired):+.0f} to {max(paired):+.0f})"
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


def _spans(runs: list[dict[str, float]], phase: str) -> list[float]:
    """How long ``phase`` took in each run that noted it (ms)."""
    return [run[f"{phase}<"] - run[f"{phase}>"] for run in runs if f"{phase}<" in run]


def _median(runs: list[dict[str, float]], key: str) -> float | None:
    found = [run[key] for run in runs if key in run]
    return statistics.median(found) if found else None


if __name__ == "__main__":
    main()
