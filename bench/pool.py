"""Pool the rounds of several runs of a whole-command benchmark, row by row.

    .venv/bin/python bench/pool.py REPORT.json [REPORT.json ...] [--resamples 10000]

Each report is what a ``bench/cmd_*.py`` run wrote with ``--json``.  A row
(its work and its reference) gathers the per-round ratios of every report
that has it; printed: the rounds, the median of the pooled ratios, a 95 %
interval of that median (bootstrap: the rounds resampled with replacement,
with a fixed seed, so the same reports print the same figures), and the
goal — *met* when the whole interval is at or above it, *missed* when it is
wholly below, else *undecided*: the rounds cannot tell.  Where the reports
hold each run's processor time (user + system), the median of the per-round
processor ratios too (reference ÷ Entrepôt, as the time's): the work each
side made the processors do, which the load of the machine moves less than
the time.

Why: on this shared two-core machine a row's rounds span ±15 %, and the
median of one run of 10 rounds moves by several points from one run to the
next (two runs of the same code, 20 rounds each, gave 0.925 and 0.953).  A
goal a few points from the figure needs more rounds than one run gives, and
an interval that says how far the rounds can be trusted.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path
from typing import Any

from harness import print_columns

#: The bootstrap's seed: the same reports always print the same interval.
SEED = 20261206


def pooled(reports: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each row's ratios from every report, with its goal (the last report's)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for report in reports:
        for row in report["rows"]:
            key = (row["work"], row["reference"])
            found = rows.setdefault(key, {"ratios": [], "cpu": [], "runs": 0, "goal": None})
            found["ratios"] += row["ratios"]
            if row.get("entrepot_cpu") and row.get("reference_cpu"):
                pairs = zip(row["reference_cpu"], row["entrepot_cpu"], strict=True)
                found["cpu"] += [theirs / mine for theirs, mine in pairs if mine > 0]
            found["runs"] += 1
            found["goal"], found["goal_text"] = row.get("goal"), row.get("goal_text")
    return rows


def interval(ratios: list[float], resamples: int) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median of ``ratios``."""
    rng = random.Random(SEED)
    medians = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def verdict(low: float, high: float, goal: float | None) -> str:
    if goal is None:
        return ""
    if low >= goal:
        return "met"
    return "missed" if high < goal else "undecided"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="--json reports of one benchmark")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    args = parser.parse_args()
    reports = [json.loads(path.read_text()) for path in args.reports]
    print(f"{len(reports)} reports: {', '.join(str(path) for path in args.reports)}")
    header = ("work", "reference", "runs", "rounds", "median", "95 % interval", "cpu", "goal", "")
    table = [header]
    for (work, reference), row in pooled(reports).items():
        ratios = row["ratios"]
        low, high = interval(ratios, args.resamples)
        goal = row["goal"]
        cells = (
            work, reference, str(row["runs"]), str(len(ratios)),
            f"{statistics.median(ratios):.3f}", f"{low:.3f}–{high:.3f}",
            f"{statistics.median(row['cpu']):.3f}" if row["cpu"] else "—",
            row["goal_text"] or "", verdict(low, high, goal),
        )  # fmt: skip
        table.append(cells)
    print_columns(table)


if __name__ == "__main__":
    main()
