"""The tables of ``bench_fleet_central.py``: throughput with its ratio, and where the time went."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
Results = dict[str, dict[int, list[Row]]]  # work → instance count → one row per round
GROUPS = ("central-0", "central-1", "postgres", "weed", "bench", "others")


def median(rows: list[Row], pick: Callable[[Row], float]) -> float:
    return float(statistics.median(pick(row) for row in rows))


def percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def ratio_cell(rows: list[Row], ones: list[Row]) -> str:
    """The median of the per-round ratios of the rates to those of one instance."""
    if rows is ones or len(ones) != len(rows):
        return "—"
    per_round = [row["rate"] / one["rate"] for row, one in zip(rows, ones, strict=True)]
    low, high = min(per_round), max(per_round)
    return f"**{statistics.median(per_round):.2f}** ({low:.2f}–{high:.2f})"


def throughput(results: Results, units: dict[str, str]) -> None:
    print("\n| work | instances | rate (median) | range | MiB/s | ratio to 1 (range) "
          "| timed window | launch → done |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for work, by_count in results.items():
        for count, rows in by_count.items():
            rates = [row["rate"] for row in rows]
            cells = [
                work,
                str(count),
                f"**{statistics.median(rates):,.0f}** {units[work]}",
                f"{min(rates):,.0f}–{max(rates):,.0f}",
                f"{median(rows, lambda r: r['mib_s']):.1f}",
                ratio_cell(rows, by_count.get(1, [])),
                f"{median(rows, lambda r: r['window_s']):.1f} s",
                f"{median(rows, lambda r: r['launch_to_done_s']):.1f} s",
            ]
            print("| " + " | ".join(cells) + " |")


def group_share(rows: list[Row], group: str) -> str:
    present = [row for row in rows if group in row["share"]]
    return percent(median(present, lambda r: r["share"][group])) if present else "—"


def waited(rows: list[Row], prefix: str) -> float:
    """Median seconds the processes named ``prefix…`` waited for a core."""
    return median(rows, lambda r: sum(v for k, v in r["runq_s"].items() if k.startswith(prefix)))


def pg_waits(rows: list[Row], top: int = 4) -> str:
    """The commonest states of PostgreSQL's backends, averaged over the rounds."""
    mean: dict[str, float] = {}
    for row in rows:
        for what, n in row["pg_waits"].items():
            mean[what] = mean.get(what, 0.0) + n / len(rows)
    ranked = sorted(mean.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{what} {n:.2f}" for what, n in ranked)


def where_time_went(results: Results) -> None:
    print("\nShares of the machine's cores over the timed window (medians of the rounds); "
          "'waited': seconds our processes were ready to run but had no core; "
          "PostgreSQL: average number of backends on a core (CPU) or waiting")  # fmt: skip
    print("| work | instances | " + " | ".join(GROUPS) + " | idle | iowait "
          "| waited: central / PG / weed | disk busy | PostgreSQL backends |")  # fmt: skip
    print("|---|---|" + "---|" * (len(GROUPS) + 5))
    for work, by_count in results.items():
        for count, rows in by_count.items():
            cells = [work, str(count), *(group_share(rows, group) for group in GROUPS)]
            cells.append(percent(median(rows, lambda r: 1 - r["share"]["machine"])))
            cells.append(percent(median(rows, lambda r: r["share"]["iowait"])))
            cells.append(" / ".join(f"{waited(rows, g):.1f}" for g in ("central", "post", "weed")))
            cells.append(percent(median(rows, lambda r: r["disk_busy"])))
            cells.append(pg_waits(rows))
            print("| " + " | ".join(cells) + " |")


def cpu_per_unit(row: Row, prefix: str) -> float:
    """Milliseconds of CPU per object or row of the processes named ``prefix…``."""
    spent = sum(v for name, v in row["cpu_s"].items() if name.startswith(prefix))
    return 1000 * spent / row["timed_units"]


def per_unit(results: Results, units: dict[str, str]) -> None:
    print("\nPer object or row (medians): CPU of our instances (all of them), of PostgreSQL "
          "and of SeaweedFS; commits in the ledger and in the data center's database; "
          "the server's WAL flushes, "
          "their time and the WAL written")  # fmt: skip
    print("| work | instances | serve CPU | PostgreSQL CPU | SeaweedFS CPU "
          "| commits: ledger / data | WAL flushes | WAL flush time | WAL bytes |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for work, by_count in results.items():
        for count, rows in by_count.items():
            cells = [work, str(count)]
            cells += [f"{median(rows, lambda r, g=g: cpu_per_unit(r, g)):.3g} ms"
                      for g in ("central", "postgres", "weed")]  # fmt: skip
            commits = [median(rows, lambda r, k=k: r["pg"][k]) for k in ("commits", "data commits")]
            cells.append(" / ".join(f"{n:.3g}" for n in commits))
            for key, unit in (("wal_syncs", ""), ("wal_sync_ms", " ms")):
                cells.append(f"{median(rows, lambda r, k=key: r['pg'][k]):.3g}{unit}")
            cells.append(f"{median(rows, lambda r: r['pg']['wal_bytes']):,.0f} B")
            print("| " + " | ".join(cells) + " |")


def profiles_table(profiles: dict[str, dict[str, float]]) -> None:
    if not profiles:
        return
    places = ("Python", "fsync", "PostgreSQL", "S3 requests")
    print("\nOne instance under py-spy (idle included): where its working thread was")
    print("| work | " + " | ".join(places) + " |")
    print("|---|" + "---|" * len(places))
    for work, shares in profiles.items():
        print(f"| {work} | " + " | ".join(percent(shares.get(p, 0.0)) for p in places) + " |")


def print_tables(
    results: Results, units: dict[str, str], profiles: dict[str, dict[str, float]]
) -> None:
    throughput(results, units)
    where_time_went(results)
    per_unit(results, units)
    profiles_table(profiles)
