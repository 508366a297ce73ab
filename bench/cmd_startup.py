"""Start-up: short ``entrepot`` commands against a bare interpreter and ``rclone version``.

    .venv/bin/python bench/cmd_startup.py [--rounds 5] [--json FILE]

Rows (each command timed whole, in a subprocess, warm caches):

* ``entrepot --version`` against ``python -c pass`` (the same interpreter;
  goal: within 5×, ratio ≥ 0.20) and ``rclone version`` (1.75; shown for
  comparison, no goal);
* ``entrepot spool put S one-file`` (durable, into an existing spool),
  ``entrepot ship S URL`` with nothing waiting and ``entrepot status``,
  each against ``python -c pass`` (goal: within 12×, ratio ≥ 0.083).

The ship URL is an SFTP URL on a closed port: with nothing waiting the
command must not connect (a connection attempt fails the run).  Its
``--password-env`` variable is set, as a user's would be (an unset one is a
configuration error, exit 3, with nothing waiting too), and never read.  ``ship``
and ``status`` use a ledger in a state folder created before the rounds, as
a user's would be.  Checks: the version printed; the file in ``new/`` with
its content (removed again afterwards); "nothing waiting"; the job table;
empty output from ``python -c pass``; ``rclone v1.75`` from rclone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench_targets import rclone_binary
from harness import (
    ENTREPOT,
    PYTHON,
    Command,
    Row,
    Side,
    check,
    files_in,
    new_ledger,
    options,
    run_rows,
    scratch,
)

WITHIN_5 = (0.2, "≥ 0.20 (≤ 5×)")
WITHIN_12 = (1 / 12, "≥ 0.083 (≤ 12×)")


def fixed(
    label: str,
    argv: list[str],
    verify: Callable[[str], None],
    goal: tuple[float, str] | None,
    env: dict[str, str] | None = None,
) -> Side:
    """A side whose command needs no preparation."""
    command = Command(argv, verify=verify, env=env)
    threshold, text = goal if goal is not None else (None, "")
    return Side(label, lambda: command, goal=threshold, goal_text=text)


def bare_python(goal: tuple[float, str]) -> Side:
    def empty(stdout: str) -> None:
        check(stdout == "", f"python -c pass printed {stdout!r}")

    return fixed("python -c pass", [PYTHON, "-c", "pass"], empty, goal)


def rows(base: Path) -> list[Row]:
    state = base / "state"
    spool = base / "spool"
    one = base / "one-file.bin"
    one.write_bytes(os.urandom(4096))
    # Untimed preparation shared by all rounds: the spool and the ledger exist.
    subprocess.run([ENTREPOT, "spool", "init", str(spool)], check=True, capture_output=True)
    new_ledger(state)
    rclone = str(rclone_binary())

    def version(stdout: str) -> None:
        check(stdout.startswith("entrepot "), f"--version printed {stdout!r}")

    def rclone_version(stdout: str) -> None:
        check(stdout.startswith("rclone v1.75"), f"rclone version printed {stdout[:40]!r}")

    def put_one() -> Command:
        def verify(stdout: str) -> None:
            check(files_in(spool / "new") == [one.name], f"new/ holds {files_in(spool / 'new')}")
            check((spool / "new" / one.name).read_bytes() == one.read_bytes(), "content differs")
            check(files_in(spool / "tmp") == [], "tmp/ is not empty")

        return Command(
            [ENTREPOT, "spool", "put", str(spool), str(one)],
            verify=verify,
            cleanup=lambda: (spool / "new" / one.name).unlink(),
        )

    def nothing_waiting(stdout: str) -> None:
        check("nothing waiting" in stdout, f"ship printed {stdout[-200:]!r}")

    def jobs_shown(stdout: str) -> None:
        check("succeeded" in stdout and "backlog" in stdout, f"status printed {stdout[:200]!r}")

    ship = [ENTREPOT, "ship", str(spool), "sftp://bench@127.0.0.1:1/drop", "--state", str(state)]
    # The variable must be set (an unset one is a configuration error, exit 3);
    # with nothing waiting it is never used.
    ship += ["--password-env", "BENCH_UNUSED_PASSWORD"]
    ship_env = {**os.environ, "BENCH_UNUSED_PASSWORD": "unused"}
    return [
        Row(
            "entrepot --version",
            fixed("entrepot --version", [ENTREPOT, "--version"], version, None),
            [
                bare_python(WITHIN_5),
                fixed("rclone version", [rclone, "version"], rclone_version, None),
            ],
        ),
        Row(
            "spool put S one-file",
            Side("entrepot spool put", put_one),
            [bare_python(WITHIN_12)],
        ),
        Row(
            "ship S URL, nothing waiting",
            fixed("entrepot ship", ship, nothing_waiting, None, env=ship_env),
            [bare_python(WITHIN_12)],
        ),
        Row(
            "status",
            fixed("entrepot status", [ENTREPOT, "status", "--state", str(state)], jobs_shown, None),
            [bare_python(WITHIN_12)],
        ),
    ]


def main() -> None:
    args = options(__doc__.split("\n\n")[0]).parse_args()
    base = scratch("cmd-startup")
    run_rows("cmd_startup", args, rows(base), {})


if __name__ == "__main__":
    main()
