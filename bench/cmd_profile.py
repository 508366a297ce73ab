"""Where the time goes in the worst rows: import times and profiles of whole commands.

    .venv/bin/python bench/cmd_profile.py [--large-mib 256] [--rows 200000] [--top 15]

Three looks, each at a whole ``entrepot`` command in a subprocess:

* ``python -X importtime -m entrepot --version``: the import time of each
  top-level package (the modules' own times added up) and the largest
  cumulative imports;
* ``python -m cProfile -m entrepot put FILE ftp://…`` (one file of
  ``--large-mib`` MiB to the test suite's FTP server in its own process);
* ``python -m cProfile -m entrepot dc import …`` (``--rows`` orders, the
  file of ``cmd_import.py``, into SQLite);
* ``python -m cProfile -m entrepot spool put S …`` (``--files`` files of
  4 KiB, durable, into a spool made beforehand).

The profiles are kept in ``bench/.work/profiles/`` (open them with
``python -m pstats``); the summaries print the functions with the most
time of their own and the most time including their callees.  cProfile slows
Python code down (not the C code it calls), so read proportions, not times.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import re
import statistics
import subprocess
import time
from collections import Counter

from bench_targets_common import ServerProcess
from cmd_import import Importer
from harness import PYTHON, WORK, random_file, random_files, scratch
from import_orders import generate
from ship_remotes import PASSWORD_VARIABLE, disk_remote

OWN_CODE = "src/entrepot/"
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_times(top: int, runs: int) -> None:
    """Median over ``runs`` runs after a warm-up: a busy machine distorts any single one."""
    own: dict[str, list[int]] = {}
    cumulative: dict[str, list[int]] = {}
    for number in range(runs + 1):
        proc = subprocess.run(
            [PYTHON, "-X", "importtime", "-m", "entrepot", "--version"],
            capture_output=True,
            text=True,
            check=True,
        )
        if number == 0:
            continue  # the warm-up: bytecode and page caches filled
        packages: Counter[str] = Counter()
        for match in IMPORT_LINE.finditer(proc.stderr):
            self_us, cumulative_us, indent, module = match.groups()
            packages[module.split(".")[0]] += int(self_us)
            if len(indent) <= 3:  # imported by entrepot's own modules, or at the top
                cumulative.setdefault(module, []).append(int(cumulative_us))
        for package, micros in packages.items():
            own.setdefault(package, []).append(micros)
    medians = {name: statistics.median(values) for name, values in own.items()}
    total = sum(medians.values())
    load = os.getloadavg()[0]
    print(
        f"\n== python -X importtime -m entrepot --version, median of {runs} runs; load {load:.1f}"
    )
    print(f"{total / 1000:.0f} ms of imports; by top-level package (own time of its modules):")
    for package, micros in sorted(medians.items(), key=lambda item: -item[1])[:top]:
        print(f"  {micros / 1000:7.1f} ms  {package}")
    print("largest cumulative imports near the top of the tree:")
    tops = {name: statistics.median(values) for name, values in cumulative.items()}
    for module, micros in sorted(tops.items(), key=lambda item: -item[1])[:top]:
        print(f"  {micros / 1000:7.1f} ms  {module}")


def profiled(name: str, argv: list[str], top: int, env: dict[str, str] | None = None) -> None:
    """Run ``entrepot ARGS`` under cProfile in a subprocess; print the summary."""
    output = WORK / "profiles" / f"{name}.prof"
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "cProfile", "-o", str(output), "-m", "entrepot", *argv],
        check=True,
        capture_output=True,
        env=env,
    )
    elapsed = time.perf_counter() - started
    stats = pstats.Stats(str(output))
    total = stats.total_tt
    imports = sum(row[3] for (_, _, name), row in stats.stats.items() if name == "_find_and_load")
    load = os.getloadavg()[0]
    print(f"\n== {name}: {elapsed:.2f} s under cProfile ({output}); load {load:.1f}")
    print(f"profiled {total:.2f} s, of which imports {imports:.2f} s")
    print(summary(stats, "tottime", top, None))
    print(summary(stats, "cumulative", top, OWN_CODE))


def summary(stats: pstats.Stats, order: str, top: int, only: str | None) -> str:
    """The ``top`` lines of ``stats`` by ``order`` (those matching ``only``), paths shortened."""
    text = io.StringIO()
    stats.stream = text
    stats.sort_stats(order).print_stats(*(only, top) if only else (top,))
    lines = text.getvalue().splitlines()
    start = next(n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    title = f"-- by {order}" + (" (Entrepôt's own functions)" if only else "") + ":"
    body = "\n".join(lines[start:]).rstrip()
    return title + "\n" + re.sub(r"\S*/(site-packages|src|python3\.\d+)/", "", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--import-runs", type=int, default=5)
    args = parser.parse_args()
    base = scratch("cmd-profile")
    import_times(args.top, args.import_runs)

    large = random_file(base / "large.bin", args.large_mib)
    with ServerProcess(base / "servers") as servers:
        ftp = disk_remote("ftp", servers.info["ftp"], [])
        ftp.prepare("profile")
        argv = ["put", str(large), ftp.url("profile"), "--password-env", PASSWORD_VARIABLE]
        profiled("put-ftp", argv, args.top, env=ftp.env)

    source = base / "orders.csv"
    generate(source, args.rows)
    command = Importer(base, source).command(f"sqlite:///{base / 'orders.sqlite'}")
    profiled("dc-import-sqlite", command.argv[1:], args.top)

    sources = random_files(base / "sources", args.files, 4096)
    spool = base / "spool"
    subprocess.run(
        [PYTHON, "-m", "entrepot", "spool", "init", str(spool)], check=True, capture_output=True
    )
    profiled("spool-put", ["spool", "put", str(spool), *map(str, sources)], args.top)


if __name__ == "__main__":
    main()
