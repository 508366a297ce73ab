"""Spool: ``entrepot spool put`` of many small files against a plain Python loop.

    .venv/bin/python bench/cmd_spool.py [--files 3000] [--size 4096] [--rounds 5] [--json FILE]

Entrepôt runs ``entrepot spool put S f00000.bin … f02999.bin`` (durable, the
default) into a spool made by ``entrepot spool init`` beforehand, untimed.
The reference is a whole ``python`` process given the same file names,
doing for each file what a durable publish needs at the least: read it,
open ``tmp/NAME`` (exclusive create), write, fsync, close, rename into
``new/``, fsync ``new/``.  Goal: ratio ≥ 0.9.

Checks after every run: ``new/`` holds exactly the source names, each with
the source's size and SHA-256; ``tmp/`` is empty.  The spool is removed
after each run (untimed); the sources stay, so both sides read them from the
page cache.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness import (
    ENTREPOT,
    PYTHON,
    Command,
    Row,
    Side,
    check,
    check_same,
    digests,
    files_in,
    folder_digests,
    options,
    random_files,
    run_rows,
    scratch,
)

# The reference: every system call a durable publish needs, nothing more.
LOOP = """\
import os, sys
spool, names = sys.argv[1], sys.argv[2:]
tmp, new = os.path.join(spool, "tmp"), os.path.join(spool, "new")
for name in names:
    with open(name, "rb") as source:
        data = source.read()
    staged = os.path.join(tmp, os.path.basename(name))
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.rename(staged, os.path.join(new, os.path.basename(name)))
    folder = os.open(new, os.O_RDONLY)
    os.fsync(folder)
    os.close(folder)
"""


def rows(base: Path, count: int, size: int) -> list[Row]:
    sources = random_files(base / "sources", count, size)
    names = [path.name for path in sources]
    expected = digests(sources)
    loop = base / "loop.py"
    loop.write_text(LOOP)
    spool = base / "spool"

    def verify(stdout: str) -> None:
        check_same(folder_digests(spool / "new"), expected)
        check(files_in(spool / "tmp") == [], f"tmp/ holds {files_in(spool / 'tmp')[:3]}")

    def cleanup() -> None:
        shutil.rmtree(spool)

    def entrepot() -> Command:
        subprocess.run([ENTREPOT, "spool", "init", str(spool)], check=True, capture_output=True)
        argv = [ENTREPOT, "spool", "put", str(spool), *names]
        return Command(argv, verify=verify, cleanup=cleanup, cwd=sources[0].parent)

    def plain_loop() -> Command:
        for area in ("tmp", "new", "cur"):
            (spool / area).mkdir(parents=True)
        argv = [PYTHON, str(loop), str(spool), *names]
        return Command(argv, verify=verify, cleanup=cleanup, cwd=sources[0].parent)

    label = f"spool put {count:,} × {size:,} B (durable)"
    reference = Side(
        "python loop: open/write/fsync/close/rename/fsync dir",
        plain_loop,
        goal=0.9,
        goal_text="≥ 0.9",
    )
    return [Row(label, Side("entrepot spool put", entrepot), [reference])]


def main() -> None:
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000, help="files per run (default 3000)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file (default 4096)")
    args = parser.parse_args()
    base = scratch("cmd-spool")
    workload = {"files": args.files, "size": args.size}
    run_rows("cmd_spool", args, rows(base, args.files, args.size), workload)


if __name__ == "__main__":
    main()
